"""Which lessons a student has started: their file differs from the shipped stub, or they
answered the quiz. Stub fingerprints come from ``stubs.json`` (written into a student build),
else from the course's own ``exercises/`` (the instructor's repository)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from loopgrader.course.catalog import Course

__all__ = ["STUBS_FILE", "fingerprint", "fingerprint_text", "stub_fingerprints"]

STUBS_FILE = "stubs.json"


def fingerprint(path: Path) -> str:
    """SHA-256 of the file with line endings and trailing spaces normalised."""
    return fingerprint_text(path.read_bytes().decode("utf-8", errors="replace"))


def fingerprint_text(text: str) -> str:
    """:func:`fingerprint` of a text already read."""
    text = text.replace("\r\n", "\n")
    normal = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def stub_fingerprints(course: Course) -> dict[str, str]:
    """Lesson id → fingerprint of its untouched stub."""
    recorded = course.root / STUBS_FILE
    if recorded.is_file():
        data = json.loads(recorded.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()}
    return {lesson.id: fingerprint(lesson.stub) for lesson in course.lessons
            if lesson.stub is not None and lesson.stub.is_file()}

