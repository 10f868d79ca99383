"""Helpers for the course-wide tests: submissions built from files, graded like a student's."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from loopgrader.course.catalog import Course, Lesson
from loopgrader.grading.runner import RunOptions, run_graders
from loopgrader.records.result import LessonResult
from loopgrader.sandbox.host import GraderHost
from loopgrader.sandbox.limits import default_limits

REPO = Path(__file__).resolve().parents[1]
LESSONS_DIR = Path(__file__).resolve().parent / "lessons"
HEADER = re.compile(r"^#\s*(mutant|caught-by|expect):\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Mutant:
    """A known-bug variant of a lesson's file, with the test meant to catch it."""

    lesson: str
    path: Path
    description: str
    caught_by: str
    expect: str


def read_mutant(lesson: str, path: Path) -> Mutant:
    fields = dict(HEADER.findall(path.read_text(encoding="utf-8")))
    missing = {"mutant", "caught-by", "expect"} - set(fields)
    if missing:
        raise ValueError(f"{path}: header lines missing: {', '.join(sorted(missing))}")
    return Mutant(lesson, path, fields["mutant"], fields["caught-by"], fields["expect"])


def mutants(lesson: str) -> list[Mutant]:
    folder = LESSONS_DIR / lesson / "mutants"
    return [read_mutant(lesson, p) for p in sorted(folder.glob("*.py"))]


def alternatives(lesson: str) -> list[Path]:
    return sorted((LESSONS_DIR / lesson / "alternatives").glob("*.py"))


OPTIONS = RunOptions(device="cpu", limits=default_limits(60))


def grade_file(course: Course, lesson: Lesson, source: Path, tmp: Path,
               host: GraderHost) -> LessonResult:
    """Grade ``source`` as the student's file of ``lesson`` (in a fresh submission root), in a
    fresh grader run forked from ``host`` (the path ``check`` and ``grade`` share; a warm host
    spares each of the hundreds of runs the start of Python and torch)."""
    assert lesson.file is not None
    target = tmp / "submission" / lesson.id / lesson.file
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    run = run_graders(host, course, [lesson], tmp / "submission", OPTIONS)
    return run.results[lesson.id]


def failure_report(result: LessonResult) -> str:
    return "\n".join(f"{'PASS' if t.passed else 'FAIL'} {t.node_id}: {t.category}: {t.message} "
                     f"| {t.hint}" for t in result.tests)
