"""The bundled course through ``loopgrader grade`` with the strongest isolation this machine
allows (namespaces when run as root on Linux): every reference gets full marks, every stub is
"not started", a lesson left out is "not submitted". Lessons whose workers need more than plain
calls (3.5 starts a gloo group on loopback; timing checks fork reference workers) must work
inside the sandbox exactly as in a student's own ``check``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course_harness import REPO
from loopgrader.batch.grade import BatchOptions, grade_batch
from loopgrader.course.catalog import load_course
from loopgrader.records.gradebook import open_gradebook
from loopgrader.sandbox.isolation import detect_isolation

COURSE = load_course(REPO)
BUILT = [lesson for lesson in COURSE.lessons if lesson.ready and lesson.file]
pytestmark = pytest.mark.slow


def _put(subs: Path, student: str, lesson_id: str, name: str, source: Path) -> None:
    target = subs / student / lesson_id / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def test_the_class_batch_gives_references_full_marks_and_stubs_not_started(
        tmp_path: Path) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    halves = {"first-half": BUILT[: len(BUILT) // 2], "second-half": BUILT[len(BUILT) // 2:]}
    for student, lessons in halves.items():
        for lesson in lessons:
            assert lesson.reference is not None and lesson.file is not None
            _put(subs, student, lesson.id, lesson.file, lesson.reference)
    for lesson in BUILT:
        assert lesson.stub is not None and lesson.file is not None
        _put(subs, "stubs", lesson.id, lesson.file, lesson.stub)

    summary = grade_batch(COURSE, BatchOptions(submissions=subs, out=out, jobs=2))

    assert summary.isolation == detect_isolation("auto")
    with open_gradebook(out, create=False) as book:
        pairs = {(p.student, p.lesson): p for p in book.pairs()}
    problems = []
    for student, lessons in halves.items():
        mine = {lesson.id for lesson in lessons}
        for lesson in BUILT:
            pair = pairs[(student, lesson.id)]
            if lesson.id not in mine:
                if pair.status != "not submitted":
                    problems.append(f"{student} {lesson.id}: {pair.status}, not 'not submitted'")
                continue
            failed = [f"{t.name}: {t.message}" for t in pair.tests if not t.passed]
            if (pair.status, pair.exercise_score) != ("graded", lesson.points) or failed:
                problems.append(f"{student} {lesson.id} (reference): {pair.status} "
                                f"{pair.exercise_score}/{lesson.points} {pair.message} {failed}")
            if pair.isolation != summary.isolation:
                problems.append(f"{student} {lesson.id}: isolation {pair.isolation}")
    for lesson in BUILT:
        pair = pairs[("stubs", lesson.id)]
        if (pair.status, pair.exercise_score) != ("not started", 0):
            problems.append(f"stubs {lesson.id}: {pair.status} {pair.exercise_score}")
    assert not problems, "\n".join(problems)
