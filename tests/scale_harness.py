"""A synthetic, deterministic class for the scale-out tests and ``benchmarks/bench_scale.py``:
each student's file for each lesson is the reference, one of the lesson's alternatives (full
marks), one of its mutants (a known bug), the untouched stub, or nothing; which one depends only
on the student's name and the lesson (a hash), so every run builds the same class."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from loopgrader.course.catalog import Course, Lesson

LESSONS_DIR = Path(__file__).resolve().parent / "lessons"


def variants(lesson: Lesson) -> list[tuple[str, Path | None]]:
    """(kind, file) a student may hand in for ``lesson``; None: nothing handed in."""
    assert lesson.reference is not None and lesson.stub is not None
    found: list[tuple[str, Path | None]] = [("reference", lesson.reference)] * 3
    folder = LESSONS_DIR / lesson.id
    found += [("alternative", p) for p in sorted((folder / "alternatives").glob("*.py"))]
    found += [("mutant", p) for p in sorted((folder / "mutants").glob("*.py"))]
    return [*found, ("stub", lesson.stub), ("missing", None)]


def student_name(index: int) -> str:
    return f"student{index:05d}"


def pick(student: str, lesson: Lesson, choices: list[tuple[str, Path | None]]
         ) -> tuple[str, Path | None]:
    digest = hashlib.sha256(f"{student}/{lesson.id}".encode()).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def synthetic_class(course: Course, lessons: list[Lesson], students: int,
                    folder: Path) -> dict[tuple[str, str], str]:
    """Write ``students`` submissions under ``folder``; returns (student, lesson) → kind."""
    kinds: dict[tuple[str, str], str] = {}
    pools = {lesson.id: variants(lesson) for lesson in lessons}
    for index in range(students):
        student = student_name(index)
        (folder / student).mkdir(parents=True, exist_ok=True)
        for lesson in lessons:
            kind, source = pick(student, lesson, pools[lesson.id])
            kinds[(student, lesson.id)] = kind
            if source is not None and lesson.file is not None:
                target = folder / student / lesson.id / lesson.file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return kinds


def gradable_lessons(course: Course, wanted: str = "all") -> list[Lesson]:
    """The built lessons with a student file (and so a reference and a stub)."""
    chosen = [lesson for lesson in course.lessons if lesson.ready and lesson.file]
    if wanted != "all":
        ids = wanted.split(",")
        chosen = [lesson for lesson in chosen if lesson.id in ids]
    return chosen
