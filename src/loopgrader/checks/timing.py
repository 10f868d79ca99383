"""Timing on the local device: the student's run as a ratio to the reference's.

Both run the same probe on the same inputs and device, each in a worker of its own (the
reference never runs beside student code), single-threaded, interleaved, after a warm-up; the
verdict is the median of several ratios, measured here in the grader process (student code
cannot touch this clock). A student run slower than the allowed ratio is stopped early, so a
very slow solution costs the grader little.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Protocol

from loopgrader.checks.failures import GradingFailure, StudentTimeout

__all__ = ["TimingVerdict", "assert_timing", "time_against_reference"]


class _Timed(Protocol):
    def timed_probe(self, timeout: float, name: str, *args: Any,
                    **kwargs: Any) -> tuple[Any, float]: ...


@dataclass(frozen=True)
class TimingVerdict:
    """The measured ratio (student / reference), the allowance, and the raw figures."""

    ratio: float
    allowed: float
    ratios: tuple[float, ...]
    reference_s: float
    device: str
    stopped_early: bool = False

    @property
    def passed(self) -> bool:
        return not self.stopped_early and self.ratio <= self.allowed

    def sentence(self, what: str) -> str:
        more = "more than " if self.stopped_early else ""
        return (f"{what} took {more}{self.ratio:.1f}× the reference's time on {self.device} "
                f"(allowed: {self.allowed:g}×)")

    def as_record(self) -> dict[str, Any]:
        return {"ratio": round(self.ratio, 3), "allowed": self.allowed, "device": self.device,
                "ratios": [round(r, 3) for r in self.ratios], "passed": self.passed,
                "reference_s": round(self.reference_s, 4), "stopped_early": self.stopped_early}


def time_against_reference(student: _Timed, reference: _Timed, probe: str, *args: Any,
                           device: str, allowed: float = 3.0, repeats: int = 5,
                           slack_s: float = 0.25, **kwargs: Any) -> TimingVerdict:
    """Time ``probe(*args)`` in both workers, interleaved; stop the student past ``allowed``."""
    _, warm = reference.timed_probe(120.0, probe, *args, **kwargs)
    budget = allowed * warm * 2 + slack_s
    ratios: list[float] = []
    try:
        student.timed_probe(budget * 2, probe, *args, **kwargs)
        for _ in range(repeats):
            _, ref_s = reference.timed_probe(120.0, probe, *args, **kwargs)
            _, got_s = student.timed_probe(allowed * ref_s * 2 + slack_s, probe, *args,
                                           **kwargs)
            ratios.append(got_s / max(ref_s, 1e-9))
    except StudentTimeout:
        return TimingVerdict(ratio=allowed * 2, allowed=allowed, ratios=tuple(ratios),
                             reference_s=warm, device=device, stopped_early=True)
    return TimingVerdict(ratio=statistics.median(ratios), allowed=allowed, ratios=tuple(ratios),
                         reference_s=warm, device=device)


def assert_timing(verdict: TimingVerdict, what: str, record: dict[str, Any] | None = None,
                  key: str = "train") -> None:
    """Record the verdict for the report, then fail if it is over the allowance."""
    if record is not None:
        record.setdefault("timings", {})[key] = verdict.as_record()
    if not verdict.passed:
        raise GradingFailure(verdict.sentence(what),
                             hint="look for Python loops over samples or grid points that a "
                                  "tensor operation could replace, and for work repeated "
                                  "every iteration")
