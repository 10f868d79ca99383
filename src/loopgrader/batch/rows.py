"""One gradebook row per (student, lesson): the status rules and the quiz score.

Statuses, first match wins:

- ``not submitted``: no file for the lesson and no quiz answers;
- ``error``: the file was refused (too large), or does not import, or a grader failed;
- ``timed out`` / ``crashed``: a call into the student's code ran out of time / the process
  running it died (``sys.exit`` is an ordinary failure, ``os._exit`` a crash);
- ``not started``: the file is the untouched stub (and the quiz is unanswered);
- ``graded``: everything else. The score always counts the tests that passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from loopgrader.course.catalog import Lesson
from loopgrader.errors import LoopgraderError
from loopgrader.quiz.loader import load_quiz
from loopgrader.quiz.model import Quiz
from loopgrader.quiz.scoring import score_quiz
from loopgrader.quiz.session import load_answers
from loopgrader.records.pair import PairRecord, exercise_status
from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import Category, LessonStatus, PairStatus

__all__ = ["QuizScore", "pair_from_result", "pair_without_grading", "score_answers", "statuses"]

STATUSES = tuple(PairStatus)


def statuses() -> tuple[str, ...]:
    return STATUSES


@dataclass(frozen=True)
class QuizScore:
    """A lesson's quiz: its maximum, and the score when answers exist (None: no answers)."""

    max_score: float = 0.0
    score: float | None = None
    problem: str = ""


def score_answers(quiz: Quiz | None, answers: Path | None, strip: str = "") -> QuizScore:
    """Score the staged answers file against ``quiz`` (trusted side; never raises).
    ``strip`` (the staging folder) is removed from messages."""
    if quiz is None:
        return QuizScore()
    if answers is None:
        return QuizScore(quiz.max_score)
    try:
        result = score_quiz(quiz, load_answers(answers), source=answers)
    except LoopgraderError as error:
        message = _clean(error.message, strip) or ""
        return QuizScore(quiz.max_score, 0.0, f"quiz answers refused: {message}")
    except Exception as error:  # a hostile answers file must not stop the batch
        return QuizScore(quiz.max_score, 0.0, f"quiz answers unreadable: {type(error).__name__}")
    return QuizScore(quiz.max_score, result.score)


def load_quizzes(lessons: Iterable[Lesson]) -> dict[str, Quiz]:
    """The quiz of every lesson that has one (course files: errors are the course's)."""
    return {lesson.id: load_quiz(lesson.quiz) for lesson in lessons if lesson.quiz is not None}


def pair_without_grading(student: str, lesson: Lesson, status: str, quiz: QuizScore,
                         message: str = "", fingerprint: str = "") -> PairRecord:
    """A row for a lesson whose exercise was not run (not submitted, stub, refused)."""
    exercise_max = lesson.points if lesson.file is not None else 0.0
    if status == PairStatus.NOT_SUBMITTED and not message and lesson.file is not None:
        notebook = lesson.file.removesuffix(".py") + ".ipynb"
        message = (f"no {lesson.id}/{lesson.file} (or {notebook}) in the submission (links and "
                   "files in the wrong place are not graded)")
    if lesson.file is None and quiz.score is not None:  # a quiz-only lesson, answered
        status = PairStatus.GRADED
    return PairRecord(
        student=student, status=status,
        exercise=LessonResult(lesson.id, exercise_status(status, 0.0, exercise_max), 0.0,
                              exercise_max),
        quiz_score=quiz.score, quiz_max=quiz.max_score, message=_join(message, quiz.problem),
        fingerprint=fingerprint)


def pair_from_result(student: str, result: LessonResult, quiz: QuizScore, *, fingerprint: str,
                     isolation: str, strip: str = "") -> PairRecord:
    """The row of a graded lesson; ``strip`` (a staging folder) is removed from messages."""
    tests = tuple(replace(t, message=_clean(t.message, strip)) for t in result.tests)
    status, message = _status(result, tests)
    return PairRecord(
        student=student, status=status,
        exercise=replace(result, status=exercise_status(status, result.score, result.max_score),
                         tests=tests, duration_s=round(result.duration_s, 3)),
        quiz_score=quiz.score, quiz_max=quiz.max_score,
        message=_join(_clean(message, strip) or "", quiz.problem), fingerprint=fingerprint,
        isolation=isolation, integrity=_clean(_integrity(result.integrity), strip) or "")


def _integrity(reasons: tuple[str, ...]) -> str:
    """The gradebook's integrity cell: the first reasons, and how many tests were affected."""
    if not reasons:
        return ""
    more = f"\n(and {len(reasons) - 3} more)" if len(reasons) > 3 else ""
    return "\n".join(reasons[:3]) + more


def _status(result: LessonResult, tests: tuple[TestResult, ...]) -> tuple[str, str]:
    failed = [t for t in tests if not t.passed]
    for category, status in ((Category.TIMEOUT, PairStatus.TIMED_OUT),
                             (Category.CRASH, PairStatus.CRASHED)):
        hit = next((t for t in failed if t.category == category), None)
        if hit is not None:
            return status, hit.message or status
    if result.import_error:
        return PairStatus.ERROR, result.import_error
    broken = next((t for t in failed if t.category == Category.GRADER_ERROR), None)
    if broken is not None:
        return PairStatus.ERROR, broken.message or "a grader failed"
    if tests and result.status == LessonStatus.NOT_STARTED:  # every test failed on the stub
        return PairStatus.NOT_STARTED, "the file is still the stub: nothing is implemented yet"
    if not tests:
        return PairStatus.ERROR, "no grader test ran for this lesson"
    return PairStatus.GRADED, f"{len(failed)} of {len(tests)} tests failed" if failed else ""


def _clean(text: str | None, strip: str) -> str | None:
    if text is None or not strip:
        return text
    return text.replace(strip.rstrip("/") + "/", "")


def _join(*parts: str) -> str:
    return "\n".join(part for part in parts if part)
