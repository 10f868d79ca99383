"""A student's attempts, recorded under the course's ``.loopgrader/`` folder.

Each attempt is one JSON file written atomically (temporary file, then rename), so a check
killed at any moment leaves every earlier attempt intact; a damaged file is reported and skipped,
never fatal.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loopgrader._fs import atomic_write_text
from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import LessonStatus

__all__ = [
    "Attempt",
    "LessonProgress",
    "Progress",
    "load_progress",
    "progress_dir",
    "record_attempt",
    "summarise",
]

SCHEMA_VERSION = 1
KINDS = ("exercise", "quiz")


@dataclass(frozen=True)
class Attempt:
    """One ``check`` or ``quiz`` of one lesson: its kind, when it started, and the graded
    lesson (an attempt file keeps the fields it always had)."""

    kind: str  # "exercise" | "quiz"
    result: LessonResult
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def lesson(self) -> str:
        return self.result.lesson

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def max_score(self) -> float:
        return self.result.max_score

    @property
    def status(self) -> str:
        """passed | attempted | not started | error (see LessonStatus)."""
        return self.result.status

    @property
    def duration_s(self) -> float:
        return self.result.duration_s

    @property
    def device(self) -> str | None:
        return self.result.device or None

    @property
    def tests(self) -> tuple[TestResult, ...]:
        return self.result.tests

    @property
    def timings(self) -> dict[str, float]:
        return self.result.timings

    @property
    def curves(self) -> dict[str, Any]:
        return self.result.curves

    def to_json(self) -> dict[str, Any]:
        return {"lesson": self.lesson, "kind": self.kind, "score": self.score,
                "max_score": self.max_score, "status": self.status,
                "duration_s": self.duration_s, "device": self.device,
                "started_at": self.started_at, "tests": [t.to_json() for t in self.tests],
                "timings": dict(self.timings), "curves": dict(self.curves),
                "schema": SCHEMA_VERSION}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        result = LessonResult(
            lesson=str(data["lesson"]),
            status=str(data["status"]),
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            tests=tuple(TestResult.from_json(t) for t in data.get("tests", ())),
            device=str(data.get("device") or ""),
            duration_s=float(data.get("duration_s", 0.0)),
            timings={str(k): float(v) for k, v in dict(data.get("timings", {})).items()},
            curves=dict(data.get("curves", {})),
        )
        return cls(str(data["kind"]), result, str(data["started_at"]))


@dataclass(frozen=True)
class Progress:
    """Every readable attempt, oldest first, and what could not be read."""

    attempts: tuple[Attempt, ...]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class LessonProgress:
    """One lesson's standing for one kind (exercise or quiz)."""

    lesson: str
    kind: str
    attempts: int
    best: Attempt | None
    latest: Attempt | None

    @property
    def status(self) -> str:
        if self.best is None:
            return LessonStatus.NOT_STARTED
        if self.best.max_score > 0 and self.best.score >= self.best.max_score:
            return LessonStatus.PASSED
        latest_stub = self.latest is not None and self.latest.status == LessonStatus.NOT_STARTED
        if latest_stub and self.best.score == 0:
            return LessonStatus.NOT_STARTED
        return LessonStatus.ATTEMPTED


def progress_dir(course_root: Path) -> Path:
    """Where a course keeps its progress records."""
    return course_root / ".loopgrader" / "attempts"


def record_attempt(course_root: Path, attempt: Attempt) -> Path:
    """Store ``attempt`` as a new file; never touches earlier records."""
    if attempt.kind not in KINDS:
        raise ValueError(f"attempt kind must be one of {KINDS}, got {attempt.kind!r}")
    stamp = attempt.started_at.replace(":", "").replace("-", "").replace("+", "Z")
    name = f"{stamp}_{attempt.lesson}_{attempt.kind}_{uuid.uuid4().hex[:8]}.json"
    path = progress_dir(course_root) / name
    atomic_write_text(path, json.dumps(attempt.to_json(), indent=1, sort_keys=True))
    return path


def load_progress(course_root: Path) -> Progress:
    """Read every attempt; unreadable files become problems, not crashes."""
    folder = progress_dir(course_root)
    attempts: list[Attempt] = []
    problems: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                attempts.append(Attempt.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path}: unreadable progress record ({exc}); it is ignored")
    attempts.sort(key=lambda a: a.started_at)
    return Progress(tuple(attempts), tuple(problems))


def summarise(attempts: Iterable[Attempt], lesson: str, kind: str) -> LessonProgress:
    """Best and latest attempt of one lesson and kind."""
    mine = [a for a in attempts if a.lesson == lesson and a.kind == kind]
    best = max(mine, key=lambda a: (a.score / a.max_score if a.max_score else 0.0), default=None)
    return LessonProgress(lesson, kind, len(mine), best, mine[-1] if mine else None)
