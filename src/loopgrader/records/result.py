"""One graded test and one graded lesson: the record every output and both stores share.

:class:`TestResult` is one grader test (or one quiz question); :class:`LessonResult` is one
lesson's exercise (or quiz) as graded: its tests, points, status, device, duration and the
measurements graders recorded (timing ratios, loss curves; integrity reasons come from the
tests). ``grading.results`` makes them from pytest-json-report's report and ``quiz.scoring``
from a scored quiz; attempt files (:mod:`loopgrader.records.progress`) and the gradebook
(:mod:`loopgrader.records.gradebook`) store them, each keeping the fields its format always had;
``check``'s outputs, the progress report and the exports read them.

May import only the bottom modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loopgrader.status import Category, LessonStatus, TestStatus

__all__ = ["LessonResult", "TestResult"]

# the fields of a test an attempt file keeps (and the progress report's JSON shows)
ATTEMPT_TEST_FIELDS = ("name", "score", "max_score", "status", "message", "hint", "prompt",
                       "given", "expected", "explanation")


@dataclass(frozen=True)
class TestResult:
    """One grader test (or quiz question) as the student sees it."""

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    passed: bool
    visibility: str = "visible"
    message: str | None = None  # what failed (None when passed)
    hint: str | None = None
    category: str | None = None  # a Category when failed; None when passed
    node_id: str = ""
    extras: dict[str, Any] = field(default_factory=dict)  # what the grader recorded (live only)
    duration_s: float = 0.0  # setup + call + teardown, as pytest measured them
    prompt: str | None = None  # quiz questions: the question, the answer given, and once
    given: str | None = None  # answered the key and the explanation (shown by the report)
    expected: str | None = None
    explanation: str | None = None

    @property
    def status(self) -> TestStatus:
        return TestStatus.PASSED if self.passed else TestStatus.FAILED

    def to_json(self) -> dict[str, Any]:
        """The test as an attempt file keeps it (every field there, None included)."""
        return {name: self.status if name == "status" else getattr(self, name)
                for name in ATTEMPT_TEST_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        """A test of an attempt file (unknown keys ignored; missing ones raise KeyError)."""
        return cls(data["name"], data["score"], data["max_score"],
                   data["status"] == TestStatus.PASSED, message=data.get("message"),
                   hint=data.get("hint"), prompt=data.get("prompt"), given=data.get("given"),
                   expected=data.get("expected"), explanation=data.get("explanation"))


@dataclass(frozen=True)
class LessonResult:
    """One lesson's exercise (or quiz) as graded, and what went wrong before its tests ran.

    ``score``/``max_score`` and ``status`` are stored, not recomputed: a record read back from
    an attempt file or a gradebook keeps what was recorded (a lesson not graded has no tests
    but is still worth its points). :meth:`from_tests` computes them for a fresh grading.
    """

    lesson: str
    status: str  # a LessonStatus
    score: float
    max_score: float
    tests: tuple[TestResult, ...] = ()
    device: str = ""  # "" when unknown (a quiz)
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # timing ratios vs the reference
    curves: dict[str, Any] = field(default_factory=dict)  # test name -> {curve: {series: [..]}}
    import_error: str | None = None  # a fresh grading only: not kept by either store
    missing_file: str | None = None

    @classmethod
    def from_tests(cls, lesson: str, tests: Sequence[TestResult], device: str,
                   duration_s: float, *, import_error: str | None = None,
                   missing_file: str | None = None) -> LessonResult:
        """A freshly graded lesson: points, status and measurements from its tests."""
        tests = tuple(tests)
        timings: dict[str, float] = {}
        for test in tests:
            for key, value in test.extras.get("timings", {}).items():
                timings[str(key)] = float(value.get("ratio", 0.0))
        return cls(lesson, _status(tests, import_error, missing_file),
                   sum(t.score for t in tests), sum(t.max_score for t in tests), tests, device,
                   duration_s, timings,
                   {t.name: t.extras["curves"] for t in tests if "curves" in t.extras},
                   import_error, missing_file)

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def integrity(self) -> tuple[str, ...]:
        """Why the grader withheld points for integrity (a rejected construct in the source, a
        guard undone at run time); empty for an ordinary submission."""
        return tuple(dict.fromkeys(t.message or "" for t in self.tests
                                   if t.category == Category.INTEGRITY))


def _status(tests: tuple[TestResult, ...], import_error: str | None,
            missing_file: str | None) -> LessonStatus:
    """passed, attempted, not started (every test failed on the stub), missing or does not
    import."""
    if missing_file:
        return LessonStatus.MISSING
    if import_error:
        return LessonStatus.DOES_NOT_IMPORT
    if tests and all(t.passed for t in tests):
        return LessonStatus.PASSED
    failed = [t for t in tests if not t.passed]
    stubbed = all(t.category == Category.NOT_STARTED for t in failed)
    if len(failed) == len(tests) and stubbed:
        return LessonStatus.NOT_STARTED
    return LessonStatus.ATTEMPTED
