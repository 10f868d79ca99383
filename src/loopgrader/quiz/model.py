"""The quiz model: validated quizzes and questions, as the rest of loopgrader sees them.

Build them with :func:`loopgrader.quiz.loader.load_quiz` or
:func:`loopgrader.quiz.loader.parse_quiz`, which validate the YAML; the classes are also
importable from :mod:`loopgrader.quiz.loader`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "HashedKey", "Question", "Quiz"]

KINDS = ("single", "multiple", "numeric", "text", "output")


@dataclass(frozen=True)
class HashedKey:
    """The key of a question in a students' copy: a salt and HMAC-SHA256 digests (hex)."""

    salt: str
    digests: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """One validated question.

    ``keys`` are the normal forms of the accepted answers (empty in a hashed copy, where
    ``hashed`` holds their digests instead); ``expected`` is the key as shown to students
    after they answer (``None`` in a hashed copy).
    """

    id: str
    kind: str
    prompt: str
    points: float
    explanation: str
    choices: tuple[tuple[str, str], ...] = ()
    decimals: int | None = None
    code: str | None = None
    keys: tuple[str, ...] = ()
    expected: str | None = None
    hashed: HashedKey | None = None

    @property
    def letters(self) -> tuple[str, ...]:
        """The choice letters, in the order of the file."""
        return tuple(letter for letter, _ in self.choices)


@dataclass(frozen=True)
class Quiz:
    """A validated quiz: the questions of one lesson, in order."""

    lesson: str
    title: str
    questions: tuple[Question, ...]
    source: str = ""

    @property
    def max_score(self) -> float:
        """The sum of every question's points."""
        return float(sum(question.points for question in self.questions))

    def question(self, question_id: str) -> Question | None:
        """The question with this id, if the quiz has one."""
        return next((q for q in self.questions if q.id == question_id), None)
