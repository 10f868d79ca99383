"""``loopgrader check``: grade lessons of one submission and record the attempt."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from loopgrader.catalog import Course, Lesson, select_lessons
from loopgrader.progress import Attempt, TestOutcome, record_attempt
from loopgrader.results import LessonResult
from loopgrader.runner import grade_lessons

__all__ = ["CheckReport", "LessonCheck", "attempt_from_result", "run_check"]


@dataclass(frozen=True)
class LessonCheck:
    """One lesson of a check: its exercise result (None when it has no exercise)."""

    lesson: Lesson
    exercise: LessonResult | None

    @property
    def passed(self) -> bool:
        return self.exercise is None or self.exercise.passed


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found, lesson by lesson; lessons not built yet are listed apart."""

    selector: str
    checks: tuple[LessonCheck, ...]
    not_built: tuple[Lesson, ...]
    device: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def score(self) -> float:
        return sum(c.exercise.score for c in self.checks if c.exercise)

    @property
    def max_score(self) -> float:
        return sum(c.exercise.max_score for c in self.checks if c.exercise)


def run_check(*, course: Course, selector: str, submission_root: Path, device: str = "auto",
              timeout: float = 60.0, record: bool = True) -> CheckReport:
    """Grade the lessons ``selector`` names; record an attempt per graded lesson."""
    lessons = select_lessons(course, selector)
    graded = [lesson for lesson in lessons if lesson.ready and lesson.file]
    not_built = tuple(lesson for lesson in lessons if not lesson.ready)
    started = time.perf_counter()
    results: dict[str, LessonResult] = {}
    device_used = device
    if graded:
        run = grade_lessons(course, graded, submission_root, device=device, timeout=timeout)
        results = run.results
        device_used = next(iter(results.values())).device if results else device
    checks = tuple(LessonCheck(lesson, results.get(lesson.id))
                   for lesson in lessons if lesson.ready)
    if record:
        for check in checks:
            if check.exercise is not None:
                record_attempt(course.root, attempt_from_result(check.exercise))
    return CheckReport(selector, checks, not_built, device_used, time.perf_counter() - started)


def attempt_from_result(result: LessonResult) -> Attempt:
    """The progress record of one graded lesson."""
    return Attempt(
        lesson=result.lesson, kind="exercise", score=result.score, max_score=result.max_score,
        status=result.status, duration_s=result.duration_s, device=result.device,
        tests=tuple(TestOutcome(t.name, t.score, t.max_score, t.status) for t in result.tests),
        timings=result.timings,
        curves={t.name: t.extras["curves"] for t in result.tests if "curves" in t.extras},
    )
