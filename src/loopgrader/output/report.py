"""The progress report's data: where a student stands across the course, from their attempts.

Rendering (text, Markdown, HTML, JSON) lives in ``report_render``; this module only computes.
The JSON form (:meth:`Report.to_json`) is the stable, documented shape (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
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
    """One attempt in a lesson's history (a view of it)."""

    attempt: Attempt

    @property
    def at(self) -> str:
        return self.attempt.started_at

    @property
    def score(self) -> float:
        return self.attempt.score

    @property
    def max_score(self) -> float:
        return self.attempt.max_score

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class LessonRow:
    """One lesson: exercise and quiz standing, history, timings and loss curves; a view over
    the lesson and its attempts (each holding its graded record), nothing copied."""

    lesson: Lesson
    attempts: tuple[Attempt, ...] = ()  # this lesson's attempts, oldest first
    following: Lesson | None = None  # the next built lesson, for the next step

    @property
    def id(self) -> str:
        return self.lesson.id

    @property
    def title(self) -> str:
        return self.lesson.title

    @property
    def built(self) -> bool:
        return self.lesson.ready

    @property
    def has_exercise(self) -> bool:
        return self.lesson.file is not None

    @property
    def has_quiz(self) -> bool:
        return self.lesson.quiz is not None

    @cached_property
    def exercise(self) -> LessonProgress:
        return summarise(self.attempts, self.lesson.id, "exercise")

    @cached_property
    def quiz(self) -> LessonProgress:
        return summarise(self.attempts, self.lesson.id, "quiz")

    @property
    def exercise_best(self) -> ScorePoint | None:
        return _point(self.exercise.best)

    @property
    def exercise_latest(self) -> ScorePoint | None:
        return _point(self.exercise.latest)

    @property
    def exercise_attempts(self) -> int:
        return self.exercise.attempts

    @property
    def quiz_best(self) -> ScorePoint | None:
        return _point(self.quiz.best)

    @property
    def quiz_attempts(self) -> int:
        return self.quiz.attempts

    @property
    def last_attempt(self) -> str | None:
        return self.attempts[-1].started_at if self.attempts else None

    @cached_property
    def _exercises(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kind == "exercise"]

    @cached_property
    def history(self) -> tuple[ScorePoint, ...]:
        return tuple(ScorePoint(a) for a in self._exercises)

    @cached_property
    def timings(self) -> dict[str, float]:
        """The latest exercise attempt's timing ratios (of the latest that measured any)."""
        return dict(next((a.timings for a in reversed(self._exercises) if a.timings), {}))

    @cached_property
    def curves(self) -> dict[str, Any]:
        """curve name -> {series name: [values]}, of the latest attempt that recorded any."""
        curves = next((a.curves for a in reversed(self._exercises) if a.curves), {})
        return {name: curve for per_test in curves.values() for name, curve in
                (per_test.items() if isinstance(per_test, dict) else ())}

    @cached_property
    def timing_history(self) -> dict[str, tuple[float, ...]]:
        found: dict[str, list[float]] = {}
        for attempt in self._exercises:
            for key, ratio in attempt.timings.items():
                found.setdefault(key, []).append(float(ratio))
        return {key: tuple(values) for key, values in found.items()}

    @cached_property
    def exercise_status(self) -> str:
        """not started | attempted | passed ("—" if the lesson has no exercise)."""
        return _part_status(self.exercise) if self.lesson.file else "—"

    @cached_property
    def quiz_status(self) -> str:
        return _part_status(self.quiz) if self.lesson.quiz else "—"

    @cached_property
    def status(self) -> str:
        needed = [s for s in (self.exercise_status if self.lesson.file else None,
                              self.quiz_status if self.lesson.quiz else None) if s is not None]
        if not self.lesson.ready:
            return "not built yet"
        if all(s == LessonStatus.NOT_STARTED for s in needed):
            return LessonStatus.NOT_STARTED
        if all(s == LessonStatus.PASSED for s in needed):
            return LessonStatus.PASSED
        return LessonStatus.ATTEMPTED

    @cached_property
    def latest_tests(self) -> tuple[TestResult, ...]:
        """The latest exercise attempt's tests."""
        return self.exercise.latest.tests if self.exercise.latest is not None else ()

    @cached_property
    def quiz_questions(self) -> tuple[TestResult, ...]:
        """The latest quiz attempt's questions."""
        return self.quiz.latest.tests if self.quiz.latest is not None else ()

    @cached_property
    def next_step(self) -> str | None:
        if not self.lesson.ready:
            return None
        return _next_step(self.lesson, self.exercise_status, self.quiz_status,
                          self.latest_tests, self.following)

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
    return None if attempt is None else ScorePoint(attempt)


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


def build_report(course: Course, progress: Progress, *, student: str | None = None,
                 now: datetime | None = None) -> Report:
    """The report for ``progress`` over every lesson of ``course``."""
    attempts = progress.attempts
    built = [lesson for lesson in course.lessons if lesson.ready]
    following = {a.id: b for a, b in pairwise(built)}
    modules = tuple(
        ModuleRow(number, title, tuple(
            LessonRow(lesson, tuple(a for a in attempts if a.lesson == lesson.id),
                      following.get(lesson.id))
            for lesson in course.lessons if lesson.module == number))
        for number, title in sorted(course.modules.items()))
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return Report(course.title, student, stamp, modules, progress.problems, len(attempts))
