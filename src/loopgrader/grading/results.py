"""Grading results read from pytest-json-report's JSON (the only module that knows its shape).

They come out as the shared records of :mod:`loopgrader.records.result`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import Category

__all__ = ["parse_report"]


def parse_report(report: dict[str, Any], lessons: Iterable[str],
                 durations: dict[str, float] | None = None) -> dict[str, LessonResult]:
    """Split one pytest-json-report report into a result per lesson."""
    info = report.get("loopgrader", {})
    device = str(info.get("device", "cpu"))
    import_errors = dict(info.get("import_errors", {}))
    grouped: dict[str, list[TestResult]] = {lesson: [] for lesson in lessons}
    for test in report.get("tests", []):
        meta = test.get("metadata") or {}
        lesson = meta.get("lesson")
        if lesson in grouped:
            grouped[lesson].append(_test_result(test, meta))
    return {
        lesson: LessonResult.from_tests(
            lesson, tests, device, (durations or {}).get(lesson, _duration(report, lesson)),
            import_error=import_errors.get(lesson),
            missing_file=next((t.message for t in tests if t.category == Category.MISSING), None),
        )
        for lesson, tests in grouped.items()
    }


def _test_result(test: dict[str, Any], meta: dict[str, Any]) -> TestResult:
    passed = test.get("outcome") == "passed"
    points = float(meta.get("points", 1.0))
    message = meta.get("message")
    if not passed and message is None:
        message = _pytest_message(test)
    return TestResult(
        name=str(meta.get("name", test.get("nodeid", "?"))),
        score=points if passed else 0.0,
        max_score=points,
        passed=passed,
        visibility=str(meta.get("visibility", "visible")),
        message=None if passed else message,
        hint=None if passed else _join_hints(
            meta.get("failure_hint"),
            None if meta.get("category") == Category.INTEGRITY else meta.get("hint")),
        category=None if passed else str(meta.get("category", Category.FAILED)),
        node_id=str(test.get("nodeid", "")),
        extras=dict(meta.get("extras") or {}),
        duration_s=sum(float((test.get(stage) or {}).get("duration") or 0.0)
                       for stage in ("setup", "call", "teardown")),
    )


def _join_hints(*hints: Any) -> str | None:
    found = [str(h) for h in hints if h]
    return "\n".join(dict.fromkeys(found)) or None


def _pytest_message(test: dict[str, Any]) -> str:
    for stage in ("setup", "call", "teardown"):
        crash = (test.get(stage) or {}).get("crash")
        if crash:
            return f"the grader itself failed on this test: {crash.get('message', '')}"
    return "the test did not pass"


def _duration(report: dict[str, Any], lesson: str) -> float:
    total = 0.0
    for test in report.get("tests", []):
        if (test.get("metadata") or {}).get("lesson") == lesson:
            for stage in ("setup", "call", "teardown"):
                total += float((test.get(stage) or {}).get("duration", 0.0))
    return total
