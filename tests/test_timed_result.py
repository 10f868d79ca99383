"""Timing tests pay only for correct work: each timed run's summary is compared with the
reference's (``assert_timed_result``), strictly or, where a lesson leaves initialisation and
shuffling to the student, on the loss the probe measured."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from loopgrader.checks.failures import GradingFailure
from loopgrader.checks.timing import TimingVerdict, assert_timed_result
from loopgrader.probes.summary import trained_summary


def _verdict(results: list[Any], reference: Any) -> TimingVerdict:
    return TimingVerdict(ratio=1.0, allowed=3.0, ratios=(1.0,), reference_s=0.1, device="cpu",
                         results=tuple(results), reference_result=reference)


def _summary(scale: float, losses: list[float], measured: float | None = None) -> Any:
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(scale)
        model.bias.fill_(-scale)
    return trained_summary(model, losses, measured)


def test_identical_runs_pass_and_the_record_is_untouched() -> None:
    reference = _summary(0.5, [1.0, 0.5, 0.25])
    record: dict[str, Any] = {"timings": {"train": {"ratio": 1.0}}}
    assert_timed_result(_verdict([reference] * 6, reference), "after 3 epochs", record=record)
    assert "trained" not in record["timings"]["train"]


def test_a_run_that_did_not_train_fails_with_its_loss() -> None:
    reference = _summary(0.5, [1.0, 0.5, 0.25])
    untrained = _summary(0.1, [])
    record: dict[str, Any] = {"timings": {"train": {"ratio": 0.01}}}
    with pytest.raises(GradingFailure, match=re.escape("did not train: loss after 3 epochs is "
                                                       "missing, reference 0.25")) as caught:
        assert_timed_result(_verdict([reference, untrained], reference), "after 3 epochs",
                            record=record)
    assert "timed run 2 of 2" in caught.value.message
    assert record["timings"]["train"]["trained"] is False


def test_other_parameters_fail_even_with_the_right_reported_loss() -> None:
    reference = _summary(0.5, [1.0, 0.5, 0.25])
    with pytest.raises(GradingFailure, match="differ from the reference's"):
        assert_timed_result(_verdict([_summary(0.49, [1.0, 0.5, 0.25])], reference), "after")


def test_loose_mode_judges_the_measured_loss() -> None:
    reference = _summary(0.5, [0.3], measured=0.025)
    close = _summary(0.7, [0.9], measured=0.043)  # another valid init: worse but trained
    assert_timed_result(_verdict([close], reference), "after 40 epochs", loose=1.0, atol=0.01)
    untrained = _summary(0.1, [0.0] * 40, measured=0.5)  # reports zeros, measured 0.5
    with pytest.raises(GradingFailure, match=re.escape("loss after 40 epochs is 0.5, "
                                                             "reference 0.025")):
        assert_timed_result(_verdict([untrained], reference), "after 40 epochs", loose=1.0,
                            atol=0.01)
