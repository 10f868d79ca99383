"""The progress report's data: where a student stands across the course, from their attempts.

Rendering (text, Markdown, HTML, JSON) lives in ``report_render``; this module only computes.
The JSON form (:meth:`Report.to_json`) is the stable, documented shape (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

from loopgrader.course.catalog import Course, Lesson
from loopgrader.records.progress import Attempt, LessonProgress, Progress, summarise
from loopgrader.records.result import TestResult
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
    exercise_status: str = "not started"  # not started | attempted | passed ("—" if none)
    quiz_status: str = "not started"
    latest_tests: tuple[TestResult, ...] = ()  # the latest exercise attempt's tests
    quiz_questions: tuple[TestResult, ...] = ()  # the latest quiz attempt's questions
    timing_history: dict[str, tuple[float, ...]] = field(default_factory=dict)
    next_step: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == LessonStatus.PASSED

    @property
    def parts(self) -> str:
        """Exercise and quiz progress apart: "exercise passed · quiz to do"."""
        words = {"not started": "to do", "attempted": "in progress", "passed": "passed"}
        found = []
        if self.has_exercise:
            found.append(f"exercise {words.get(self.exercise_status, self.exercise_status)}")
        if self.has_quiz:
            found.append(f"quiz {words.get(self.quiz_status, self.quiz_status)}")
        return " · ".join(found) if self.built else "not built yet"

    @property
    def progress(self) -> float:
        """Share of the lesson done: the mean of its parts' best score fractions."""
        parts = ([self.exercise_best] if self.has_exercise else []) + \
            ([self.quiz_best] if self.has_quiz else [])
        fractions = [p.fraction if p is not None else 0.0 for p in parts]
        return sum(fractions) / len(fractions) if fractions else 0.0


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
    def progress(self) -> float:
        """Share of the built course done, exercise and quiz parts counted by their best
        scores: it moves with every point earned, not only when a lesson is fully passed."""
        built = [lesson for lesson in self.lessons if lesson.built]
        return sum(lesson.progress for lesson in built) / len(built) if built else 0.0

    @property
    def passed_count(self) -> tuple[int, int]:
        built = [lesson for lesson in self.lessons if lesson.built]
        return sum(lesson.passed for lesson in built), len(built)

    @property
    def next_step(self) -> str | None:
        """What to do next: the first built lesson in course order that is under way,
        else the first not started."""
        built = [lesson for lesson in self.lessons if lesson.built and not lesson.passed]
        going = [lesson for lesson in built if lesson.status != "not started"]
        chosen = going or built
        return chosen[0].next_step if chosen else None

    @property
    def empty(self) -> bool:
        return self.attempts == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA, "course": self.course, "student": self.student,
            "generated_at": self.generated_at, "completion": round(self.completion, 4),
            "progress": round(self.progress, 4), "next_step": self.next_step,
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
        "exercise_status": lesson.exercise_status, "quiz_status": lesson.quiz_status,
        "parts": lesson.parts, "progress": round(lesson.progress, 4),
        "latest_tests": [_outcome_json(t) for t in lesson.latest_tests],
        "quiz_questions": [_outcome_json(q) for q in lesson.quiz_questions],
        "timing_history": {k: list(v) for k, v in lesson.timing_history.items()},
        "next_step": lesson.next_step,
    }


def _outcome_json(outcome: TestResult) -> dict[str, Any]:
    """A test as its attempt file keeps it, without the fields it leaves empty."""
    return {k: v for k, v in outcome.to_json().items() if v is not None}


def _point(attempt: Attempt | None) -> ScorePoint | None:
    return None if attempt is None else ScorePoint(attempt.started_at, attempt.score,
                                                   attempt.max_score)


def _part_status(summary: LessonProgress) -> str:
    """An attempt on an untouched stub (or an empty answers file) stays "not started"."""
    return str(summary.status)


def _next_step(lesson: Lesson, exercise: str, quiz: str, tests: Sequence[TestResult],
               following: Lesson | None) -> str:
    if lesson.file and exercise != "passed":
        failing = next((t for t in tests if t.status != "passed"), None)
        if exercise == "not started" or failing is None:
            return (f"{lesson.id}: start the exercise in exercises/{lesson.id}/{lesson.file}, "
                    f"then run `loopgrader check {lesson.id}`")
        return f"{lesson.id}: fix “{failing.name}” first, then run `loopgrader check {lesson.id}`"
    if lesson.quiz and quiz != "passed":
        verb = "take" if quiz == "not started" else "finish"
        return f"{lesson.id}: {verb} the quiz: `loopgrader quiz {lesson.id}`"
    if following is not None:
        return f"{lesson.id} is done: go on to {following.id} {following.title}"
    return f"{lesson.id} is done: that was the last lesson"


def _lesson_row(lesson: Lesson, attempts: Sequence[Attempt],
                following: Lesson | None = None) -> LessonRow:
    exercise = summarise(attempts, lesson.id, "exercise")
    quiz = summarise(attempts, lesson.id, "quiz")
    mine = [a for a in attempts if a.lesson == lesson.id]
    latest_with = [a for a in mine if a.kind == "exercise"]
    timings = next((a.timings for a in reversed(latest_with) if a.timings), {})
    curves = next((a.curves for a in reversed(latest_with) if a.curves), {})
    flat_curves = {name: curve for per_test in curves.values() for name, curve in
                   (per_test.items() if isinstance(per_test, dict) else ())}
    timing_history: dict[str, list[float]] = {}
    for attempt in latest_with:
        for key, ratio in attempt.timings.items():
            timing_history.setdefault(key, []).append(float(ratio))
    exercise_status = _part_status(exercise) if lesson.file else "—"
    quiz_status = _part_status(quiz) if lesson.quiz else "—"
    needed = [s for s in (exercise_status if lesson.file else None,
                          quiz_status if lesson.quiz else None) if s is not None]
    if not lesson.ready:
        status = "not built yet"
    elif all(s == LessonStatus.NOT_STARTED for s in needed):
        status = LessonStatus.NOT_STARTED
    elif all(s == LessonStatus.PASSED for s in needed):
        status = LessonStatus.PASSED
    else:
        status = LessonStatus.ATTEMPTED
    latest_tests = exercise.latest.tests if exercise.latest is not None else ()
    quiz_questions = quiz.latest.tests if quiz.latest is not None else ()
    return LessonRow(
        id=lesson.id, title=lesson.title, built=lesson.ready, has_exercise=lesson.file is not None,
        has_quiz=lesson.quiz is not None, status=status,
        exercise_best=_point(exercise.best), exercise_latest=_point(exercise.latest),
        exercise_attempts=exercise.attempts, quiz_best=_point(quiz.best),
        quiz_attempts=quiz.attempts, last_attempt=mine[-1].started_at if mine else None,
        history=tuple(ScorePoint(a.started_at, a.score, a.max_score) for a in latest_with),
        timings=dict(timings), curves=flat_curves, exercise_status=exercise_status,
        quiz_status=quiz_status, latest_tests=tuple(latest_tests),
        quiz_questions=tuple(quiz_questions),
        timing_history={k: tuple(v) for k, v in timing_history.items()},
        next_step=_next_step(lesson, exercise_status, quiz_status, latest_tests, following)
        if lesson.ready else None)


def build_report(course: Course, progress: Progress, *, student: str | None = None,
                 now: datetime | None = None) -> Report:
    """The report for ``progress`` over every lesson of ``course``."""
    attempts = progress.attempts
    built = [lesson for lesson in course.lessons if lesson.ready]
    following = {a.id: b for a, b in pairwise(built)}
    modules = tuple(
        ModuleRow(number, title, tuple(_lesson_row(lesson, attempts, following.get(lesson.id))
                                       for lesson in course.lessons if lesson.module == number))
        for number, title in sorted(course.modules.items()))
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return Report(course.title, student, stamp, modules, progress.problems, len(attempts))
