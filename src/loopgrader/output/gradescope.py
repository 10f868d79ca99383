"""Gradescope's results format (the only module that writes it): a ``results.json`` object.

Both ``check --format json`` (one submission) and a batch's per-student ``results.json`` build
their objects here, so the two always agree on field names, statuses and how a failure's message
and hint become a test's ``output``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loopgrader.records.result import TestResult
from loopgrader.status import TestStatus

__all__ = ["entry", "results", "test_entry", "test_output"]


def test_output(message: str | None, hint: str | None) -> str:
    """A failure's message, then its hint on a ``hint:`` line."""
    return "\n".join(x for x in (message, hint and f"hint: {hint}") if x)


def entry(name: str, score: float, max_score: float, *, passed: bool, output: str = "",
          visibility: str = "visible") -> dict[str, Any]:
    """One element of ``tests``."""
    return {"name": name, "score": score, "max_score": max_score,
            "status": TestStatus.PASSED if passed else TestStatus.FAILED,
            "output": output, "visibility": visibility}


def test_entry(test: TestResult, prefix: str = "") -> dict[str, Any]:
    """A grader test as an element of ``tests``."""
    return entry(prefix + test.name, test.score, test.max_score, passed=test.passed,
                 output=test_output(test.message, test.hint), visibility=test.visibility)


def results(*, score: float, execution_time: float, tests: Iterable[dict[str, Any]],
            max_score: float | None = None, **fields: Any) -> dict[str, Any]:
    """The whole object: score (and ``max_score`` when given), execution time, tests, plus
    ``fields`` (``output``, ``extra_data`` or loopgrader's own keys)."""
    head: dict[str, Any] = {"score": score}
    if max_score is not None:
        head["max_score"] = max_score
    return {**head, "execution_time": round(execution_time, 3), "tests": list(tests), **fields}
