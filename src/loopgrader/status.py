"""Statuses and failure categories: every word loopgrader records or shows for an outcome.

They are ``str`` enums, so a member equals, serialises and prints as its value (``"not
started"``): attempt files, gradebooks and exports keep the words they always had, and code
compares against one spelling defined here.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Category", "LessonStatus", "PairStatus", "TestStatus"]


class _Word(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class Category(_Word):
    """Why one grader test failed (``None`` on a passed test)."""

    FAILED = "failed"  # a check of the answer failed
    EXCEPTION = "exception"  # the student's code raised
    NOT_STARTED = "not_started"  # ... NotImplementedError: the stub is still there
    IMPORT_ERROR = "import_error"  # the student's file does not import
    CRASH = "crash"  # the worker process died during a call
    TIMEOUT = "timeout"  # a call did not finish in time
    MISSING = "missing"  # the submission has no file for the lesson
    GRADER_ERROR = "grader_error"  # the grader itself broke (course authors' bug)
    INTEGRITY = "integrity"  # the code reached around a grader's check (source rule, guard)


class TestStatus(_Word):
    """One test's outcome, as attempt files and reports spell it."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"


class LessonStatus(_Word):
    """Where a student stands on one lesson (``check``, attempts, the progress report)."""

    PASSED = "passed"
    ATTEMPTED = "attempted"
    NOT_STARTED = "not started"
    MISSING = "missing"
    DOES_NOT_IMPORT = "does not import"
    ERROR = "error"


class PairStatus(_Word):
    """A (student, lesson) row of a batch's gradebook."""

    GRADED = "graded"
    NOT_SUBMITTED = "not submitted"
    NOT_STARTED = "not started"
    TIMED_OUT = "timed out"
    CRASHED = "crashed"
    ERROR = "error"
