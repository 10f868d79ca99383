"""Failures a grader reports to a student, each with a message written for the student.

Any :class:`GradingFailure` raised in a grader test becomes that test's message; the ``category``
tells the report what happened (a wrong answer, an exception in the student's code, a crash, a
timeout, a file that does not import, an exercise not started yet).
"""

from __future__ import annotations

from loopgrader.status import Category

__all__ = [
    "GradingFailure",
    "IntegrityViolation",
    "StudentCrash",
    "StudentError",
    "StudentFileMissing",
    "StudentImportError",
    "StudentTimeout",
]


class GradingFailure(AssertionError):
    """A check failed; ``message`` and ``hint`` are shown to the student as they are."""

    category = Category.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message if not hint else f"{message}\nhint: {hint}")
        self.message = message
        self.hint = hint


class StudentError(GradingFailure):
    """The student's code raised an exception (``type_names``: its class and bases)."""

    category = Category.EXCEPTION

    def __init__(self, message: str, *, type_names: tuple[str, ...] = (),
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.type_names = type_names

    @property
    def not_implemented(self) -> bool:
        return "NotImplementedError" in self.type_names

    @property
    def category_name(self) -> Category:
        return Category.NOT_STARTED if self.not_implemented else self.category


class IntegrityViolation(GradingFailure):
    """The submission reached around a grader's check (a rejected construct in its source, or a
    run-time guard undone); the test's points are withheld and the lesson is flagged."""

    category = Category.INTEGRITY


class StudentImportError(GradingFailure):
    """The student's file could not be imported; every test of the lesson fails with this."""

    category = Category.IMPORT_ERROR


class StudentCrash(GradingFailure):
    """The process running the student's code ended while a call was under way."""

    category = Category.CRASH


class StudentTimeout(GradingFailure):
    """A call into the student's code did not finish in time; its process group was killed."""

    category = Category.TIMEOUT


class StudentFileMissing(GradingFailure):
    """The submission does not contain the file the lesson asks for."""

    category = Category.MISSING
