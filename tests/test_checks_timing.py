"""Timing verdicts from scripted run times (no real clocks: verdict logic only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loopgrader.checks.failures import GradingFailure, StudentTimeout
from loopgrader.checks.timing import assert_timing, time_against_reference


class Scripted:
    """A worker stand-in whose timed probes take scripted times (and time out past budget)."""

    def __init__(self, times: list[float]) -> None:
        self._times: Iterator[float] = iter(times)
        self.budgets: list[float] = []

    def timed_probe(self, timeout: float, name: str, *args: Any,
                    **kwargs: Any) -> tuple[Any, float]:
        self.budgets.append(timeout)
        took = next(self._times)
        if took > timeout:
            raise StudentTimeout("too slow")
        return None, took


def test_equal_speed_passes_with_ratio_one() -> None:
    ref, stu = Scripted([0.1] * 6), Scripted([0.1] * 6)
    verdict = time_against_reference(stu, ref, "p", device="cpu", repeats=5)
    assert verdict.passed and verdict.ratio == pytest.approx(1.0)
    assert len(verdict.ratios) == 5


def test_median_ignores_one_noisy_run() -> None:
    ref = Scripted([0.1] * 6)
    stu = Scripted([0.1, 0.1, 0.1, 0.55, 0.1, 0.1])
    assert time_against_reference(stu, ref, "p", device="cpu").passed


def test_slow_student_is_stopped_early_and_fails() -> None:
    ref, stu = Scripted([0.1] * 6), Scripted([10.0] * 6)
    verdict = time_against_reference(stu, ref, "p", device="cpu", allowed=3.0)
    assert verdict.stopped_early and not verdict.passed
    assert stu.budgets == [pytest.approx(3.0 * 0.1 * 2 * 2 + 0.5)]  # one bounded warm-up only
    record: dict[str, Any] = {}
    with pytest.raises(GradingFailure) as info:
        assert_timing(verdict, "your training", record)
    assert info.value.message == ("your training took more than 6.0× the reference's time on "
                                  "cpu (allowed: 3×)")
    assert record["timings"]["train"]["passed"] is False


def test_moderately_slow_student_fails_on_the_median() -> None:
    ref, stu = Scripted([0.1] * 6), Scripted([0.1] + [0.45] * 5)
    verdict = time_against_reference(stu, ref, "p", device="cpu", allowed=3.0)
    assert not verdict.passed and verdict.ratio == pytest.approx(4.5)
    assert "4.5× the reference's time" in verdict.sentence("your training")
