"""The one error type loopgrader raises on purpose, with an exit code and a hint.

Every error a user can cause (bad command line, broken course, unreadable submission) is a
:class:`LoopgraderError`; the CLI prints ``Error: <message>`` plus the hint and exits with the
error's code. Anything else that escapes is our own bug (exit code 4).
"""

from __future__ import annotations

__all__ = [
    "EXIT_COURSE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CourseError",
    "LoopgraderError",
    "SubmissionError",
    "UsageError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_COURSE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class LoopgraderError(Exception):
    """An error whose message is written for the person running loopgrader."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(LoopgraderError):
    """The command line asks for something that does not exist or does not fit."""

    exit_code = EXIT_USAGE


class SubmissionError(LoopgraderError):
    """A student's file (answers, submission folder) cannot be read as asked."""

    exit_code = EXIT_USAGE


class CourseError(LoopgraderError):
    """The course itself (manifest, graders, quizzes) is broken: for course authors."""

    exit_code = EXIT_COURSE
