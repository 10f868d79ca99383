"""``loopgrader validate``: every problem of a course, as ``file: key: expected …, got …``."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from loopgrader.course.authoring import authoring_problems
from loopgrader.course.calendar import calendar_problems
from loopgrader.course.catalog import Course, Lesson
from loopgrader.errors import CourseError
from loopgrader.grading.runner import collect_points

__all__ = ["validate_course"]


def validate_course(course: Course) -> list[str]:
    """All problems found; an empty list means the course is valid."""
    problems = calendar_problems(course.manifest, {lesson.id for lesson in course.lessons})
    for lesson in course.lessons:
        if lesson.ready:
            _check_lesson_files(lesson, problems.append)
        if lesson.quiz is not None:
            problems += _quiz_problems(lesson)
    problems += authoring_problems(course)
    ready = [lesson for lesson in course.lessons
             if lesson.ready and lesson.file and lesson.graders_dir.is_dir()]
    if ready and not problems:
        try:
            totals = collect_points(course, ready)
        except CourseError as error:
            return [*problems, error.message]
        for lesson in ready:
            if totals.get(lesson.id, 0.0) != lesson.points:
                problems.append(f"{course.manifest}: lessons {lesson.id}: points: expected "
                                f"{totals.get(lesson.id, 0.0):g} (the sum of its graders' "
                                f"points), got {lesson.points:g}")
    return problems


def _check_lesson_files(lesson: Lesson, problem: Callable[[str], None]) -> None:
    if lesson.file is None:
        return
    for label, path in (("stub", lesson.stub), ("reference", lesson.reference)):
        if path is None or not path.is_file():
            problem(f"{path}: {label} of lesson {lesson.id}: expected a file, got none")
        else:
            _check_python(path, problem)
    if lesson.stub is not None and lesson.stub.is_file() and \
            "NotImplementedError" not in lesson.stub.read_text(encoding="utf-8"):
        problem(f"{lesson.stub}: stub of lesson {lesson.id}: expected `raise "
                "NotImplementedError(...)` where the student works, got none")
    tests = sorted(lesson.graders_dir.glob("test_*.py")) if lesson.graders_dir.is_dir() else []
    if not tests:
        problem(f"{lesson.graders_dir}: graders of lesson {lesson.id}: expected test_*.py files, "
                "got none (or mark the lesson `status: planned`)")


def _check_python(path: Path, problem: Callable[[str], None]) -> None:
    try:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        problem(f"{path}: python: expected valid Python, got {type(exc).__name__}: {exc}")


def _quiz_problems(lesson: Lesson) -> list[str]:
    assert lesson.quiz is not None
    if not lesson.quiz.is_file():
        if lesson.ready:
            return [f"{lesson.quiz}: quiz of lesson {lesson.id}: expected a file, got none"]
        return []
    try:
        from loopgrader.quiz.loader import validate_quiz_file
    except ImportError:  # the quiz engine is optional while it is being built
        return []
    return list(validate_quiz_file(lesson.quiz))
