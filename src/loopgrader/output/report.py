"""The progress report's data: where a student stands across the course, from their attempts.

Rendering (text, Markdown, HTML, JSON) lives in ``report_render``; this module only computes.
The JSON form (:meth:`Report.to_json`) is the stable, documented shape (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from loopgrader.course.catalog import Course, Lesson
from loopgrader.records.progress import Attempt, Progress, summarise
from loopgrader.status import LessonStatus

__all__ = ["LessonRow", "ModuleRow", "Report", "ScorePoint", "build_report"]

REPORT_SCHEMA = 1


@dataclass(frozen=True)
class ScorePoint:
    """One attempt in a lesson's history."""

    at: str
    score: float
    max_score: float

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class LessonRow:
    """One lesson: exercise and quiz standing, history, timings and loss curves."""

    id: str
    title: str
    built: bool
    has_exercise: bool
    has_quiz: bool
    status: str
    exercise_best: ScorePoint | None
    exercise_latest: ScorePoint | None
    exercise_attempts: int
    quiz_best: ScorePoint | None
    quiz_attempts: int
    last_attempt: str | None
    history: tuple[ScorePoint, ...]
    timings: dict[str, float]
    curves: dict[str, Any]  # curve name -> {series name: [values]}

    @property
    def passed(self) -> bool:
        return self.status == LessonStatus.PASSED


@dataclass(frozen=True)
class ModuleRow:
    """A module's lessons and how many are passed."""

    number: int
    title: str
    lessons: tuple[LessonRow, ...]

    @property
    def completion(self) -> float:
        built = [lesson for lesson in self.lessons if lesson.built]
        return sum(lesson.passed for lesson in built) / len(built) if built else 0.0


@dataclass(frozen=True)
class Report:
    """Everything a report shows."""

    course: str
    student: str | None
    generated_at: str
    modules: tuple[ModuleRow, ...]
    problems: tuple[str, ...]
    attempts: int

    @property
    def lessons(self) -> list[LessonRow]:
        return [lesson for module in self.modules for lesson in module.lessons]

    @property
    def completion(self) -> float:
        built = [lesson for lesson in self.lessons if lesson.built]
        return sum(lesson.passed for lesson in built) / len(built) if built else 0.0

    @property
    def empty(self) -> bool:
        return self.attempts == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA, "course": self.course, "student": self.student,
            "generated_at": self.generated_at, "completion": round(self.completion, 4),
            "attempts": self.attempts, "problems": list(self.problems),
            "modules": [{"number": m.number, "title": m.title,
                         "completion": round(m.completion, 4),
                         "lessons": [_lesson_json(lesson) for lesson in m.lessons]}
                        for m in self.modules],
        }


def _point_json(point: ScorePoint | None) -> dict[str, Any] | None:
    return None if point is None else {"at": point.at, "score": point.score,
                                       "max_score": point.max_score}


def _lesson_json(lesson: LessonRow) -> dict[str, Any]:
    return {
        "id": lesson.id, "title": lesson.title, "built": lesson.built,
        "status": lesson.status, "has_exercise": lesson.has_exercise,
        "has_quiz": lesson.has_quiz,
        "exercise": {"best": _point_json(lesson.exercise_best),
                     "latest": _point_json(lesson.exercise_latest),
                     "attempts": lesson.exercise_attempts},
        "quiz": {"best": _point_json(lesson.quiz_best), "attempts": lesson.quiz_attempts},
        "last_attempt": lesson.last_attempt,
        "history": [_point_json(p) for p in lesson.history],
        "timings": lesson.timings, "curves": lesson.curves,
    }


def _point(attempt: Attempt | None) -> ScorePoint | None:
    return None if attempt is None else ScorePoint(attempt.started_at, attempt.score,
                                                   attempt.max_score)


def _lesson_row(lesson: Lesson, attempts: Sequence[Attempt]) -> LessonRow:
    exercise = summarise(attempts, lesson.id, "exercise")
    quiz = summarise(attempts, lesson.id, "quiz")
    mine = [a for a in attempts if a.lesson == lesson.id]
    latest_with = [a for a in mine if a.kind == "exercise"]
    timings = next((a.timings for a in reversed(latest_with) if a.timings), {})
    curves = next((a.curves for a in reversed(latest_with) if a.curves), {})
    flat_curves = {name: curve for per_test in curves.values() for name, curve in
                   (per_test.items() if isinstance(per_test, dict) else ())}
    parts = [s for s in (exercise, quiz) if s.best is not None]
    needed = [s for s in (exercise if lesson.file else None, quiz if lesson.quiz else None)
              if s is not None]
    if not lesson.ready:
        status = "not built yet"
    elif not parts:
        status = LessonStatus.NOT_STARTED
    elif needed and all(s.status == LessonStatus.PASSED for s in needed):
        status = LessonStatus.PASSED
    else:
        status = LessonStatus.ATTEMPTED
    return LessonRow(
        id=lesson.id, title=lesson.title, built=lesson.ready, has_exercise=lesson.file is not None,
        has_quiz=lesson.quiz is not None, status=status,
        exercise_best=_point(exercise.best), exercise_latest=_point(exercise.latest),
        exercise_attempts=exercise.attempts, quiz_best=_point(quiz.best),
        quiz_attempts=quiz.attempts, last_attempt=mine[-1].started_at if mine else None,
        history=tuple(ScorePoint(a.started_at, a.score, a.max_score) for a in latest_with),
        timings=dict(timings), curves=flat_curves)


def build_report(course: Course, progress: Progress, *, student: str | None = None,
                 now: datetime | None = None) -> Report:
    """The report for ``progress`` over every lesson of ``course``."""
    attempts = progress.attempts
    modules = tuple(
        ModuleRow(number, title, tuple(_lesson_row(lesson, attempts) for lesson in course.lessons
                                       if lesson.module == number))
        for number, title in sorted(course.modules.items()))
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return Report(course.title, student, stamp, modules, progress.problems, len(attempts))
