"""Reading a student's answers against a quiz and scoring them.

An answer is first *read* for its question (:func:`read_answer`: a letter out of the choices,
a number, some text) and then compared in normal form with the key, or with the key's salted
digests in a hashed copy. Answers that cannot be read are a
:class:`~loopgrader.errors.SubmissionError`: one paragraph naming the file, every bad line and
how to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from loopgrader.errors import SubmissionError
from loopgrader.quiz.format import (
    digest_matches,
    format_number,
    normalize_letters,
    normalize_output,
    normalize_text,
)
from loopgrader.quiz.model import Question, Quiz
from loopgrader.records.progress import Attempt
from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import LessonStatus

__all__ = [
    "AnswerError",
    "Given",
    "QuestionResult",
    "QuizResult",
    "check_answers",
    "grade_question",
    "is_correct",
    "quiz_result_to_attempt",
    "read_answer",
    "score_quiz",
]

_LETTER_SEPARATORS = re.compile(r"[\s,;/]+")


class AnswerError(ValueError):
    """An answer that cannot be read for its question; the message completes "This question …"."""


@dataclass(frozen=True)
class Given:
    """A student's answer, read: its normal form, the value to save, and how to show it."""

    normal: str
    stored: object
    display: str


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome; ``correct`` is ``None`` when it was not answered."""

    id: str
    prompt: str
    score: float
    max_score: float
    correct: bool | None
    given: str | None
    expected: str | None
    explanation: str

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--format json``."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "score": self.score,
            "max_score": self.max_score,
            "correct": self.correct,
            "given": self.given,
            "expected": self.expected,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class QuizResult:
    """A scored quiz."""

    lesson: str
    score: float
    max_score: float
    questions: tuple[QuestionResult, ...]

    @property
    def answered(self) -> int:
        """How many questions have an answer."""
        return sum(1 for q in self.questions if q.correct is not None)

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--format json``."""
        return {
            "lesson": self.lesson,
            "score": self.score,
            "max_score": self.max_score,
            "questions": [q.to_json() for q in self.questions],
        }


def read_answer(question: Question, value: object) -> Given:
    """Read ``value`` as an answer to ``question``; :class:`AnswerError` says what is wrong."""
    if question.kind == "single":
        return _read_single(question, value)
    if question.kind == "multiple":
        return _read_multiple(question, value)
    if question.kind == "numeric":
        return _read_number(question, value)
    return _read_text(question, value)


def _letters_text(question: Question) -> str:
    letters = question.letters
    return ", ".join(letters[:-1]) + f" or {letters[-1]}"


def _read_single(question: Question, value: object) -> Given:
    letter = value.strip().strip("().").strip().casefold() if isinstance(value, str) else None
    if letter is None or letter not in question.letters:
        raise AnswerError(f"needs one letter, {_letters_text(question)}; got {value!r}")
    return Given(letter, letter, letter)


def _split_letters(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v).strip().strip("().").casefold() for v in value]
    if not isinstance(value, str):
        return None
    parts = [p.strip("().") for p in _LETTER_SEPARATORS.split(value.strip().casefold()) if p]
    if len(parts) == 1 and parts[0].isalpha():
        return list(parts[0])
    return parts


def _read_multiple(question: Question, value: object) -> Given:
    letters = _split_letters(value)
    if not letters or any(letter not in question.letters for letter in letters):
        raise AnswerError(
            f"needs one or more letters out of {', '.join(question.letters)} "
            f'(for example "a, c"); got {value!r}'
        )
    normal = normalize_letters(letters)
    return Given(normal, list(normal), ", ".join(normal))


def _read_number(question: Question, value: object) -> Given:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and "_" not in value:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise AnswerError(f"needs a number, written like 12 or -0.25; got {value!r}")
    decimals = question.decimals if question.decimals is not None else 6
    stored: object = value if isinstance(value, int | float) else number
    return Given(format_number(number, decimals), stored, str(stored))


def _read_text(question: Question, value: object) -> Given:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise AnswerError(f"needs a short text answer; got {value!r}")
    text = str(value).strip()
    normal = normalize_text(text) if question.kind == "text" else normalize_output(text)
    if not normal:
        raise AnswerError("needs a short text answer; got an empty one")
    return Given(normal, text, text)


def is_correct(question: Question, normal: str) -> bool:
    """Whether a normal form matches the key (or one of its digests in a hashed copy)."""
    if question.hashed is not None:
        return digest_matches(question.hashed.salt, question.hashed.digests, normal)
    return normal in question.keys


def grade_question(question: Question, given: Given | None) -> QuestionResult:
    """The outcome of one question for one (possibly missing) answer."""
    correct = None if given is None else is_correct(question, given.normal)
    return QuestionResult(
        id=question.id,
        prompt=question.prompt,
        score=question.points if correct else 0.0,
        max_score=question.points,
        correct=correct,
        given=None if given is None else given.display,
        expected=question.expected,
        explanation=question.explanation,
    )


def check_answers(
    quiz: Quiz, answers: Mapping[str, object], *, source: Path | None = None, note: str = ""
) -> dict[str, Given]:
    """Read every answer; unknown ids or unreadable answers raise one :class:`SubmissionError`.

    ``None`` values are unanswered questions. ``note`` is appended to the message (for example
    what was and was not saved).
    """
    read: dict[str, Given] = {}
    problems: list[str] = []
    unknown = [qid for qid in answers if quiz.question(qid) is None]
    if unknown:
        names = ", ".join(repr(str(qid)) for qid in unknown)
        problems.append(
            f"it answers questions that quiz {quiz.lesson} does not have ({names}); "
            f"its question ids are {', '.join(q.id for q in quiz.questions)}"
        )
    for question in quiz.questions:
        value = answers.get(question.id)
        if value is None:
            continue
        try:
            read[question.id] = read_answer(question, value)
        except AnswerError as exc:
            problems.append(f"question {question.id!r} {exc}")
    if problems:
        where = f"The answers file {source}" if source is not None else "The answers"
        message = (
            f"{where} cannot be scored: "
            + "; ".join(problems)
            + ". Correct those lines and run the command again."
        )
        raise SubmissionError(f"{message} {note}".strip())
    return read


def score_quiz(
    quiz: Quiz, answers: Mapping[str, object], *, source: Path | None = None
) -> QuizResult:
    """Score ``answers`` (question id to answer, ``None`` = unanswered) against ``quiz``."""
    read = check_answers(quiz, answers, source=source)
    results = tuple(grade_question(q, read.get(q.id)) for q in quiz.questions)
    return QuizResult(
        lesson=quiz.lesson,
        score=float(sum(r.score for r in results)),
        max_score=quiz.max_score,
        questions=results,
    )


def quiz_result_to_attempt(lesson_id: str, result: QuizResult, duration_s: float) -> Attempt:
    """A progress record of a scored quiz: one test outcome per question."""
    if result.answered == 0:
        status = LessonStatus.NOT_STARTED
    elif result.score >= result.max_score:
        status = LessonStatus.PASSED
    else:
        status = LessonStatus.ATTEMPTED
    tests = tuple(
        TestResult(q.id, q.score, q.max_score, bool(q.correct), prompt=q.prompt, given=q.given,
                   expected=q.expected if q.correct is not None else None,
                   explanation=q.explanation if q.correct is not None else None)
        for q in result.questions
    )
    return Attempt("quiz", LessonResult(lesson_id, status, result.score, result.max_score, tests,
                                        duration_s=duration_s))
