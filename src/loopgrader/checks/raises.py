"""Checks that student code raises (or does not raise) a given exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loopgrader.checks.failures import GradingFailure, StudentError

__all__ = ["expect_raises"]


def expect_raises(exc_name: str, call: Callable[[], Any], what: str, *,
                  hint: str | None = None) -> StudentError:
    """``call()`` (a call into the student's module) must raise ``exc_name`` or a subclass."""
    try:
        value = call()
    except StudentError as error:
        if exc_name in error.type_names:
            return error
        if error.not_implemented:
            raise
        raise GradingFailure(f"{what}: expected {exc_name}, but it raised "
                             f"{error.type_names[0] if error.type_names else 'an error'}:\n"
                             f"{error.message}", hint=hint) from None
    raise GradingFailure(f"{what}: expected {exc_name} to be raised, but it returned "
                         f"{type(value).__name__}", hint=hint)
