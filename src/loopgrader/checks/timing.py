"""Timing on the local device: the student's run as a ratio to the reference's.

Both run the same probe on the same inputs and device, each in a worker of its own (the
reference never runs beside student code), single-threaded, interleaved, after a warm-up; the
verdict is the median of several ratios, measured here in the grader process (student code
cannot touch this clock). A student run slower than the allowed ratio is stopped early, so a
very slow solution costs the grader little.

Speed is paid for correct work only: what each timed run returns (the probe's summary of the
trained model) is kept, and ``assert_timed_result`` compares every one of the student's timed
runs with the reference's, so a function that returns at once, or trains less, earns nothing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from loopgrader.checks.failures import GradingFailure, StudentTimeout

__all__ = ["TimingVerdict", "assert_timed_result", "assert_timing", "time_against_reference"]


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
    results: tuple[Any, ...] = field(default=(), repr=False)  # each timed student run's value
    reference_result: Any = field(default=None, repr=False)

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
    expected, warm = reference.timed_probe(120.0, probe, *args, **kwargs)
    budget = allowed * warm * 2 + slack_s
    ratios: list[float] = []
    results: list[Any] = []
    try:
        results.append(student.timed_probe(budget * 2, probe, *args, **kwargs)[0])
        for _ in range(repeats):
            _, ref_s = reference.timed_probe(120.0, probe, *args, **kwargs)
            got, got_s = student.timed_probe(allowed * ref_s * 2 + slack_s, probe, *args,
                                             **kwargs)
            results.append(got)
            ratios.append(got_s / max(ref_s, 1e-9))
    except StudentTimeout:
        return TimingVerdict(ratio=allowed * 2, allowed=allowed, ratios=tuple(ratios),
                             reference_s=warm, device=device, stopped_early=True,
                             results=tuple(results), reference_result=expected)
    return TimingVerdict(ratio=statistics.median(ratios), allowed=allowed, ratios=tuple(ratios),
                         reference_s=warm, device=device, results=tuple(results),
                         reference_result=expected)


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


def assert_timed_result(verdict: TimingVerdict, after: str, *, rtol: float = 1e-4,
                        atol: float = 1e-6, loose: float | None = None,
                        record: dict[str, Any] | None = None, key: str = "train") -> None:
    """Every timed run of the student must have done the reference's work: its summary (a dict
    with ``loss``: the loss ``after`` training, and any tensors such as the trained parameters)
    matches the reference's timed run within ``rtol``/``atol``; a fast run that did not train
    earns nothing. Where a lesson leaves the initialisation or the shuffling to the student,
    ``loose`` compares only the loss the probe measured on the trained model: at most
    ``(1 + loose)`` times the reference's, plus ``atol``. Call it after ``assert_timing``."""
    for number, got in enumerate(verdict.results, start=1):
        problem = (_mismatch(got, verdict.reference_result, rtol, atol) if loose is None
                   else _worse(got, verdict.reference_result, loose, atol))
        if problem is None:
            continue
        if record is not None:
            record.setdefault("timings", {}).get(key, {})["trained"] = False
        loss = _loss_sentence(got, verdict.reference_result, after)
        raise GradingFailure(f"your timed run did not train: {loss}{problem} (timed run {number} "
                             f"of {len(verdict.results)}); speed points are paid for correct "
                             "work only",
                             hint="the timed call must do the same training as the reference: "
                                  "every epoch and every batch, with nothing skipped or cached")


def _worse(got: Any, expected: Any, loose: float, atol: float) -> str | None:
    """None when the measured loss is no worse than the reference's allows, else why."""
    theirs = expected.get("measured_loss") if isinstance(expected, dict) else None
    mine = got.get("measured_loss") if isinstance(got, dict) else None
    if not isinstance(theirs, (int, float)):
        return None  # the reference's run could not be measured: nothing to compare with
    limit = theirs * (1 + loose) + atol
    if isinstance(mine, (int, float)) and math.isfinite(mine) and mine <= limit:
        return None
    return (f"allowed up to {limit:.4g}, as your initialisation or shuffling may differ from "
            "the reference's")


def _loss_sentence(got: Any, expected: Any, after: str) -> str:
    field_name = "loss" if isinstance(expected, dict) and "measured_loss" not in expected \
        else "measured_loss"
    mine = got.get(field_name) if isinstance(got, dict) else None
    theirs = expected.get(field_name) if isinstance(expected, dict) else None
    if not isinstance(theirs, (int, float)):
        return ""
    shown = f"{mine:.6g}" if isinstance(mine, (int, float)) else "missing"
    return f"loss {after} is {shown}, reference {theirs:.6g}; "


def _mismatch(got: Any, expected: Any, rtol: float, atol: float, path: str = "") -> str | None:
    """None when ``got`` matches ``expected``, else a short sentence naming the first difference."""
    where = f" ({path})" if path else ""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"it returned {type(got).__name__}, not the trained model's summary"
        for name, value in expected.items():
            problem = _mismatch(got.get(name), value, rtol, atol, f"{path}.{name}".lstrip("."))
            if problem is not None:
                return problem
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            size = len(got) if isinstance(got, (list, tuple)) else "no"
            return f"{size} values where the reference has {len(expected)}{where}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            problem = _mismatch(a, b, rtol, atol, f"{path}[{i}]")
            if problem is not None:
                return problem
        return None
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return f"the trained values have the wrong form{where}"
        a, b = got.detach().cpu().double(), expected.detach().cpu().double()
        if not torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            diff = float((a - b).abs().nan_to_num(math.inf).max())
            return f"the trained values differ from the reference's by up to {diff:.3g}{where}"
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if not isinstance(got, (int, float)) or isinstance(got, bool) or not math.isclose(
                float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return f"{got!r} where the reference has {expected:.6g}{where}"
        return None
    return None if got == expected else f"{got!r} where the reference has {expected!r}{where}"
