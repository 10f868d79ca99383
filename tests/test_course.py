"""Course-wide tests: for every built lesson, the reference scores full marks, the untouched stub
scores zero without grader errors, every mutant is caught by the test meant for it (with a
message naming the bug), and every alternative correct solution scores full marks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from course_harness import REPO, Mutant, alternatives, failure_report, grade_file, mutants
from loopgrader.course.catalog import Course, Lesson, load_course
from loopgrader.grading.runner import new_host
from loopgrader.sandbox.host import GraderHost

COURSE = load_course(REPO)
BUILT = [lesson for lesson in COURSE.lessons if lesson.ready and lesson.file]
pytestmark = pytest.mark.slow


def _lesson(lesson_id: str) -> Lesson:
    return COURSE.lesson(lesson_id)


@pytest.fixture(scope="module")
def course() -> Course:
    return COURSE


@pytest.fixture(scope="module")
def host() -> Iterator[GraderHost]:
    """One warm grader host per test process; every grading is still a fresh fork of it."""
    with new_host() as started:
        yield started


@pytest.mark.parametrize("lesson_id", [lesson.id for lesson in BUILT])
def test_reference_scores_full_marks(course: Course, lesson_id: str, tmp_path: Path,
                                     host: GraderHost) -> None:
    lesson = _lesson(lesson_id)
    assert lesson.reference is not None
    result = grade_file(course, lesson, lesson.reference, tmp_path, host)
    assert result.tests, f"lesson {lesson_id} collected no grader tests"
    assert result.passed, failure_report(result)
    assert result.max_score == lesson.points, (
        f"course.yaml says {lesson.points} points for {lesson_id}, graders total "
        f"{result.max_score}")


@pytest.mark.parametrize("lesson_id", [lesson.id for lesson in BUILT])
def test_stub_scores_zero_cleanly(course: Course, lesson_id: str, tmp_path: Path,
                                  host: GraderHost) -> None:
    lesson = _lesson(lesson_id)
    assert lesson.stub is not None
    result = grade_file(course, lesson, lesson.stub, tmp_path, host)
    assert result.score == 0, failure_report(result)
    assert result.status == "not started", failure_report(result)
    assert not [t for t in result.tests if t.category == "grader_error"], failure_report(result)


ALL_MUTANTS = [m for lesson in BUILT for m in mutants(lesson.id)]


@pytest.mark.parametrize("mutant", ALL_MUTANTS, ids=[f"{m.lesson}-{m.path.stem}"
                                                     for m in ALL_MUTANTS])
def test_mutant_is_caught_by_its_test(course: Course, mutant: Mutant, tmp_path: Path,
                                      host: GraderHost) -> None:
    result = grade_file(course, _lesson(mutant.lesson), mutant.path, tmp_path, host)
    meant = [t for t in result.tests if t.node_id.split("::")[-1].split("[")[0]
             == mutant.caught_by]
    assert meant, f"no test named {mutant.caught_by} in lesson {mutant.lesson}"
    failed = [t for t in meant if not t.passed]
    assert failed, (f"{mutant.path.name} ({mutant.description}) was not caught by "
                    f"{mutant.caught_by}\n{failure_report(result)}")
    text = " ".join(f"{t.message} {t.hint}" for t in failed).lower()
    assert mutant.expect.lower() in text, (
        f"{mutant.path.name}: {mutant.caught_by} failed, but its message does not name the bug "
        f"({mutant.expect!r}):\n{failure_report(result)}")
    assert not [t for t in result.tests if t.category == "grader_error"], failure_report(result)


ALL_ALTERNATIVES = [(lesson.id, p) for lesson in BUILT for p in alternatives(lesson.id)]


@pytest.mark.parametrize("lesson_id,path", ALL_ALTERNATIVES,
                         ids=[f"{lid}-{p.stem}" for lid, p in ALL_ALTERNATIVES])
def test_alternative_solution_scores_full_marks(course: Course, lesson_id: str, path: Path,
                                                tmp_path: Path, host: GraderHost) -> None:
    result = grade_file(course, _lesson(lesson_id), path, tmp_path, host)
    assert result.passed, f"{path.name} is correct but lost points:\n{failure_report(result)}"
