"""What a lesson's score depends on besides the student's file, as one fingerprint per lesson:
the lesson's graders folder (tests, probes, reference), its quiz, its entry in the manifest and
the grader-side toolkit (``loopgrader.checks``, ``loopgrader.probes``).

Every run records these in the gradebook, so that a resumed run regrades the lessons whose
graders changed and ``merge`` refuses shards graded with graders other than the course's.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from loopgrader.course.catalog import Course, Lesson

__all__ = ["graders_fingerprints"]

TOOLKIT = ("loopgrader.checks", "loopgrader.probes")
SKIPPED = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def graders_fingerprints(course: Course, lessons: Iterable[Lesson] | None = None
                         ) -> dict[str, str]:
    """lesson id → fingerprint of what grades it (every built lesson unless ``lessons``)."""
    chosen = [lesson for lesson in (course.lessons if lessons is None else lessons)
              if lesson.ready]
    toolkit = _toolkit_digest()
    found: dict[str, str] = {}
    for lesson in chosen:
        digest = hashlib.sha256(toolkit.encode())
        digest.update(repr((lesson.id, lesson.file, float(lesson.points))).encode())
        for root in (lesson.graders_dir, lesson.quiz):
            if root is not None:
                _add_tree(digest.update, root)
        found[lesson.id] = digest.hexdigest()[:32]
    return found


def _add_tree(update: Callable[[bytes], None], root: Path) -> None:
    paths = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and not SKIPPED & set(p.parts)
        and p.suffix != ".pyc")
    for path in paths:
        update(b"\0" + (path.name if path == root else path.relative_to(root).as_posix()).encode())
        update(b"\0" + path.read_bytes())


@lru_cache(maxsize=1)
def _toolkit_digest() -> str:
    digest = hashlib.sha256()
    for name in TOOLKIT:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                digest.update(name.encode())
                _add_tree(digest.update, Path(location))
    return digest.hexdigest()
