"""Integrity attacks: submissions that undo the graders' in-worker guards (autograd switched off,
"do not use X") to earn the guarded points. Each file in tests/fixtures/attacks_integrity/<lesson>/
names the tests its trick targets in a ``# guarded:`` header: every one of them must score 0.
With ``# flagged: yes`` (the default) they fail for integrity and the lesson carries the flag the
instructor sees; with ``no``, the lesson's own run-time rule catches the trick as a plain
failure (a function the exercise forbids, kept under another name, still refuses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_harness import REPO, failure_report, grade_file
from loopgrader.course.catalog import Course, load_course
from loopgrader.grading.runner import new_host
from loopgrader.sandbox.host import GraderHost

ATTACKS = Path(__file__).resolve().parent / "fixtures" / "attacks_integrity"
HEADER = re.compile(r"^#\s*(attack|guarded|flagged):\s*(.+?)\s*$", re.MULTILINE)
COURSE = load_course(REPO)
pytestmark = pytest.mark.slow


def _attacks() -> list[tuple[str, Path]]:
    return [(folder.name, path) for folder in sorted(ATTACKS.iterdir()) if folder.is_dir()
            for path in sorted(folder.glob("*.py"))]


def _header(path: Path) -> tuple[list[str], bool]:
    fields = dict(HEADER.findall(path.read_text(encoding="utf-8")))
    names = [name.strip() for name in fields["guarded"].split(",") if name.strip()]
    return names, fields.get("flagged", "yes") == "yes"


@pytest.fixture(scope="module")
def host() -> Iterator[GraderHost]:
    with new_host() as started:
        yield started


@pytest.mark.parametrize("lesson_id,path", _attacks(),
                         ids=[f"{lesson}-{path.stem}" for lesson, path in _attacks()])
def test_attack_earns_no_guarded_points(lesson_id: str, path: Path, tmp_path: Path,
                                        host: GraderHost) -> None:
    course: Course = COURSE
    result = grade_file(course, course.lesson(lesson_id), path, tmp_path, host)
    names = {t.node_id.split("::")[-1].split("[")[0]: t for t in result.tests}
    guarded_tests, flagged = _header(path)
    for guarded in guarded_tests:
        assert guarded in names, f"{path.name}: no test named {guarded} in lesson {lesson_id}"
        test = names[guarded]
        assert not test.passed, (f"{path.name} earned the guarded points of {guarded}\n"
                                 f"{failure_report(result)}")
        if flagged:
            assert test.category == "integrity", (f"{path.name}: {guarded} failed, but not for "
                                                  f"integrity\n{failure_report(result)}")
    assert bool(result.integrity) == flagged, f"{path.name}: integrity flag {result.integrity}"
    assert result.status != "passed"
