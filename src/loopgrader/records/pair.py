"""One (student, lesson) row of a batch: the graded exercise's record and the batch's own
fields. The gradebook (:mod:`loopgrader.records.gradebook`) stores it; the exports read it.

May import only the bottom modules (and the shared record beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import LessonStatus, PairStatus

__all__ = ["PairRecord", "exercise_status"]


@dataclass(frozen=True)
class PairRecord:
    """One (student, lesson) row of a batch: the graded exercise (its record, shared with
    attempts and ``check``) and what the batch adds to it: the row's status and message, the
    quiz, the fingerprint, the term. ``score``/``max_score`` include the quiz."""

    student: str
    status: str  # graded | not submitted | not started | timed out | crashed | error
    exercise: LessonResult  # no tests when not graded (still worth its max_score)
    quiz_score: float | None = None  # None: no answers file
    quiz_max: float = 0.0
    message: str = ""
    fingerprint: str = ""  # of what was graded (file and answers): a change means regrade
    isolation: str = ""
    graded_at: str = ""
    # the term (issue 18): empty when the course has no calendar
    submitted_at: str = ""  # ISO 8601, UTC; "" when unknown
    submitted_source: str = ""  # manifest | git | file
    due_at: str = ""  # this student's due date (extension applied); "" when none
    days_late: int = 0
    penalty: float = 0.0  # points taken off for lateness
    final_score: float | None = None  # None: nothing applied, the score counts as it is
    integrity: str = ""  # why points were withheld for integrity ("" for ordinary results)

    @property
    def lesson(self) -> str:
        return self.exercise.lesson

    @property
    def score(self) -> float:
        return self.exercise.score + (self.quiz_score or 0.0)

    @property
    def max_score(self) -> float:
        return self.exercise.max_score + self.quiz_max

    @property
    def exercise_score(self) -> float:
        return self.exercise.score

    @property
    def exercise_max(self) -> float:
        return self.exercise.max_score

    @property
    def duration_s(self) -> float:
        return self.exercise.duration_s

    @property
    def device(self) -> str:
        return self.exercise.device

    @property
    def tests(self) -> tuple[TestResult, ...]:
        return self.exercise.tests

    @property
    def timings(self) -> dict[str, float]:
        return self.exercise.timings

    @property
    def curves(self) -> dict[str, Any]:
        return self.exercise.curves

    @property
    def final(self) -> float:
        """The score that counts: after the late penalty."""
        return self.score if self.final_score is None else self.final_score


def exercise_status(status: str, score: float, max_score: float) -> LessonStatus:
    """The exercise's standing a row's status implies: the status of every PairRecord's
    exercise, and of the attempts the progress report reads from a gradebook."""
    if status == PairStatus.NOT_STARTED:
        return LessonStatus.NOT_STARTED
    if status != PairStatus.GRADED:
        return LessonStatus.ERROR
    return LessonStatus.PASSED if score >= max_score else LessonStatus.ATTEMPTED
