"""Grading results, read from pytest-json-report's JSON (the only module that knows its shape)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from loopgrader.status import Category, LessonStatus, TestStatus

__all__ = ["LessonResult", "TestResult", "parse_report"]

@dataclass(frozen=True)
class TestResult:
    """One grader test as the student sees it."""

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    passed: bool
    visibility: str = "visible"
    message: str | None = None
    hint: str | None = None
    category: str | None = None
    node_id: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0  # setup + call + teardown, as pytest measured them

    @property
    def status(self) -> TestStatus:
        return TestStatus.PASSED if self.passed else TestStatus.FAILED


@dataclass(frozen=True)
class LessonResult:
    """Every test of one lesson, plus what went wrong before the tests could run."""

    lesson: str
    tests: tuple[TestResult, ...]
    device: str
    duration_s: float
    import_error: str | None = None
    missing_file: str | None = None

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def status(self) -> LessonStatus:
        """passed, attempted, not started, missing or does not import."""
        if self.missing_file:
            return LessonStatus.MISSING
        if self.import_error:
            return LessonStatus.DOES_NOT_IMPORT
        if self.passed:
            return LessonStatus.PASSED
        failed = [t for t in self.tests if not t.passed]
        stubbed = all(t.category == Category.NOT_STARTED for t in failed)
        if len(failed) == len(self.tests) and stubbed:
            return LessonStatus.NOT_STARTED
        return LessonStatus.ATTEMPTED

    @property
    def integrity(self) -> tuple[str, ...]:
        """Why the grader withheld points for integrity (a rejected construct in the source, a
        guard undone at run time); empty for an ordinary submission."""
        return tuple(dict.fromkeys(t.message or "" for t in self.tests
                                   if t.category == Category.INTEGRITY))

    @property
    def timings(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for test in self.tests:
            for key, value in test.extras.get("timings", {}).items():
                found[str(key)] = float(value.get("ratio", 0.0))
        return found

    @property
    def curves(self) -> dict[str, Any]:
        """Loss curves graders recorded, by the name of the test that recorded them."""
        return {t.name: t.extras["curves"] for t in self.tests if "curves" in t.extras}


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
        lesson: LessonResult(
            lesson=lesson, tests=tuple(tests), device=device,
            duration_s=(durations or {}).get(lesson, _duration(report, lesson)),
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
