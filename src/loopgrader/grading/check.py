"""``loopgrader check``: grade lessons of one submission and record the attempt."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from loopgrader.checks.source import static_hints
from loopgrader.course.catalog import Course, Lesson, select_many
from loopgrader.course.stubs import stub_fingerprints
from loopgrader.course.submission import LessonSource, is_started
from loopgrader.errors import LoopgraderError
from loopgrader.grading.runner import grade_lessons
from loopgrader.quiz.loader import load_quiz
from loopgrader.quiz.scoring import QuizResult, score_quiz
from loopgrader.quiz.session import answers_path, load_answers
from loopgrader.records.progress import Attempt, record_attempt
from loopgrader.records.result import LessonResult
from loopgrader.sandbox.host import GraderHost
from loopgrader.status import LessonStatus

__all__ = ["CheckReport", "LessonCheck", "QuizCheck", "check_lessons", "lesson_check",
           "run_check"]


@dataclass(frozen=True)
class QuizCheck:
    """A lesson's quiz as the submission's answers file scores it."""

    result: QuizResult | None  # None: no answers file yet, or it could not be read
    answers_file: Path
    problem: str | None = None

    @property
    def score(self) -> float:
        return self.result.score if self.result else 0.0

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.score >= self.result.max_score


@dataclass(frozen=True)
class LessonCheck:
    """One lesson of a check: its exercise result and its quiz (None when it has none)."""

    lesson: Lesson
    exercise: LessonResult | None
    quiz: QuizCheck | None = None
    quiz_max: float = 0.0
    advice: tuple[str, ...] = ()  # static hints from the source: advice, never points
    source: LessonSource | None = None  # the file graded (a .py or a notebook) and notes on it

    @property
    def passed(self) -> bool:
        return (self.exercise is None or self.exercise.passed) and \
            (self.quiz is None or self.quiz.passed)

    @property
    def score(self) -> float:
        return (self.exercise.score if self.exercise else 0.0) + \
            (self.quiz.score if self.quiz else 0.0)

    @property
    def max_score(self) -> float:
        return (self.exercise.max_score if self.exercise else 0.0) + self.quiz_max


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found, lesson by lesson; lessons not built yet are listed apart."""

    selector: str
    checks: tuple[LessonCheck, ...]
    not_built: tuple[Lesson, ...]
    device: str
    duration_s: float
    not_started: tuple[Lesson, ...] = ()
    isolation: str = ""  # the level student code ran at (see loopgrader.sandbox.isolation)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def score(self) -> float:
        return sum(check.score for check in self.checks)

    @property
    def max_score(self) -> float:
        return sum(check.max_score for check in self.checks)


def run_check(*, course: Course, selector: str, submission_root: Path, device: str = "auto",
              timeout: float = 60.0, record: bool = True,
              only_started: bool = False, isolation: str = "auto") -> CheckReport:
    """Grade the lessons ``selector`` names; record an attempt per graded lesson.

    With ``only_started``, lessons whose file is still the untouched stub (and whose quiz has no
    answers) are skipped and listed in ``not_started``.
    """
    lessons = select_many(course, selector.split())
    skipped: tuple[Lesson, ...] = ()
    if only_started:
        stubs = stub_fingerprints(course)
        skipped = tuple(lesson for lesson in lessons
                        if lesson.ready and not is_started(lesson, submission_root, stubs))
        lessons = [lesson for lesson in lessons if lesson not in skipped]
    not_built = tuple(lesson for lesson in lessons if not lesson.ready)
    started = time.perf_counter()
    checks, device_used, level = check_lessons(
        course, [lesson for lesson in lessons if lesson.ready], submission_root, device=device,
        timeout=timeout, record=record, isolation=isolation)
    return CheckReport(selector, checks, not_built, device_used, time.perf_counter() - started,
                       skipped, level)


def check_lessons(course: Course, lessons: Sequence[Lesson], submission_root: Path, *,
                  device: str = "auto", timeout: float = 60.0, record: bool = True,
                  host: GraderHost | None = None, isolation: str = "auto"
                  ) -> tuple[tuple[LessonCheck, ...], str, str]:
    """Grade built ``lessons`` (on ``host`` when given, else a host of their own), score their
    quizzes and record an attempt per graded exercise; also returns the device used and the
    isolation level the student's code ran at ("" when nothing was graded)."""
    graded = [lesson for lesson in lessons if lesson.file]
    results: dict[str, LessonResult] = {}
    sources: dict[str, LessonSource] = {}
    device_used = device
    level = ""
    if graded:
        run = grade_lessons(course, graded, submission_root, device=device, timeout=timeout,
                            host=host, isolation=isolation)
        results, sources, level = run.results, run.sources, run.isolation
        device_used = next(iter(results.values())).device if results else device
    checks = tuple(lesson_check(lesson, results.get(lesson.id), submission_root,
                                sources.get(lesson.id))
                   for lesson in lessons)
    if record:
        for check in checks:
            if check.exercise is not None:
                record_attempt(course.root, Attempt("exercise", check.exercise))
    return checks, device_used, level


def lesson_check(lesson: Lesson, exercise: LessonResult | None, submission_root: Path,
                 source: LessonSource | None = None) -> LessonCheck:
    """``lesson``'s check from its graded ``exercise`` (or an earlier result, kept): its quiz
    scored from the answers file and advice from the source that was graded."""
    check = replace(_quiz_check(lesson, exercise, submission_root), source=source)
    if exercise is None or exercise.status in (LessonStatus.NOT_STARTED, LessonStatus.MISSING,
                                                LessonStatus.DOES_NOT_IMPORT):
        return check
    try:
        return replace(check, advice=_advice(lesson, submission_root, source))
    except (SyntaxError, ValueError):
        return check


def _advice(lesson: Lesson, submission_root: Path,
            source: LessonSource | None) -> tuple[str, ...]:
    if source is not None and source.is_notebook:
        if source.source is None:
            return ()
        hints = static_hints(source.source)
        return tuple(re.sub(r"^line (\d+)", lambda m: source.translate_line(int(m.group(1)))
                            or m.group(0), hint) for hint in hints)
    path = source.path if source is not None else lesson.submitted_file(submission_root)
    if path is None or not path.is_file():
        return ()
    try:
        return tuple(static_hints(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return ()


def _quiz_check(lesson: Lesson, exercise: LessonResult | None,
                submission_root: Path) -> LessonCheck:
    if lesson.quiz is None:
        return LessonCheck(lesson, exercise)
    quiz = load_quiz(lesson.quiz)
    path = answers_path(submission_root, lesson.id)
    if not path.is_file():
        return LessonCheck(lesson, exercise, QuizCheck(None, path), quiz.max_score)
    try:
        result = score_quiz(quiz, load_answers(path), source=path)
    except LoopgraderError as error:  # a bad answers file is reported, never a crash
        return LessonCheck(lesson, exercise, QuizCheck(None, path, error.message),
                           quiz.max_score)
    return LessonCheck(lesson, exercise, QuizCheck(result, path), quiz.max_score)

