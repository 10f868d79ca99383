"""The limits student code runs under: one value from the command line to the worker.

The CLI (or ``grade_lessons``) builds a :class:`Limits`; it travels in the run options, the run
plan (as a dict) and the sandbox spec down to the worker, which sets its process limits from
it, while the grader-side client enforces the wall-clock ones. Plain numbers only; nothing
heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Limits", "default_limits"]


@dataclass(frozen=True)
class Limits:
    """What student code may use (0: no limit).

    ``call_seconds`` and ``lesson_seconds`` are wall clock, enforced by the grader (one call;
    all of a student's calls in one lesson together); the rest are process limits of each
    worker, ``cpu_seconds`` a lifetime cap (each call also gets its own CPU budget).
    """

    call_seconds: float = 60.0
    lesson_seconds: float = 0.0
    cpu_seconds: int = 0
    memory_bytes: int = 0
    processes: int = 64
    file_bytes: int = 64 << 20
    output_bytes: int = 1 << 20
    open_files: int = 1024

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Limits:
        """Read back :meth:`to_dict`; unknown keys are ignored, missing ones take defaults."""
        kinds = {f.name: float if f.type == "float" else int for f in fields(cls)}
        values: dict[str, Any] = {k: kinds[k](str(v)) for k, v in data.items() if k in kinds}
        return cls(**values)


def default_limits(call_seconds: float, memory_bytes: int = 0,
                   lesson_seconds: float = 0.0) -> Limits:
    """Generous limits for calls of ``call_seconds``, so honest code never meets them: a CPU
    lifetime cap of twenty calls (at least ten minutes)."""
    return Limits(call_seconds=call_seconds, lesson_seconds=lesson_seconds,
                  cpu_seconds=int(max(600.0, call_seconds * 20)), memory_bytes=memory_bytes)
