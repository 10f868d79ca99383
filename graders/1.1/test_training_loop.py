"""Graders for lesson 1.1 — a full-batch training loop with torch.optim.SGD.

Two kinds of evidence, never one alone: the loop is traced at run time in the worker (zero_grad,
backward and step, in order, once per epoch), and every run is judged on outcomes computed here in
the grader process — the reference solution on the same data, learning rate and seed, and the
least-squares line itself.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Sequence
from typing import Any

import pytest
import torch

from loopgrader.checks import GradingFailure, as_float, assert_close, require_tensor, unpack
from loopgrader.checks.loop import LoopSummary, assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

CALL = "train_linear_regression"


def _unpack(result: Any, what: str) -> tuple[Any, Any, Sequence[Any]]:
    w, b, losses = unpack(result, ("w", "b", "losses"), what=what)
    if not isinstance(losses, (list, tuple)):
        raise GradingFailure(f"{what}: losses must be a list of floats, got "
                             f"{type(losses).__name__}",
                             hint="start with losses = [] and append loss.item() every epoch")
    return w, b, losses


def _train(student: Any, X: torch.Tensor, y: torch.Tensor, **kwargs: Any
           ) -> tuple[Any, Any, Sequence[Any]]:
    what = f"{CALL}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    return _unpack(student.train_linear_regression(X, y, **kwargs), what)


def _floats(losses: Sequence[Any], what: str) -> list[float]:
    return [as_float(v, f"{what}[{i}]") for i, v in enumerate(losses)]


def _least_squares(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    design = torch.cat([X, torch.ones_like(X)], dim=1).double()
    solution = torch.linalg.lstsq(design, y.double()).solution.squeeze(1)
    return solution[:1].to(X.dtype), solution[1:].to(X.dtype)


def _initial_parameters(seed: int, dtype: torch.dtype) -> tuple[float, float]:
    torch.manual_seed(seed)
    w0 = torch.randn(1, dtype=dtype)
    b0 = torch.randn(1, dtype=dtype)
    return float(w0), float(b0)


def _close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


@pytest.mark.points(3)
def test_training_recovers_the_line(student: Any, reference: types.ModuleType) -> None:
    """training on make_data() recovers the line: w ≈ 2, b ≈ -1 (the least-squares fit)"""
    X, y = reference.make_data()
    w, b, _ = _train(student, X, y)
    require_tensor(w, "w returned by train_linear_regression", shape=(1,))
    require_tensor(b, "b returned by train_linear_regression", shape=(1,))
    w_ls, b_ls = _least_squares(X, y)
    w0, b0 = _initial_parameters(0, X.dtype)
    if _close(float(w.detach().reshape(-1)[0]), w0) and \
            _close(float(b.detach().reshape(-1)[0]), b0):
        raise GradingFailure(f"w and b never moved from their starting values ({w0:.4f}, "
                             f"{b0:.4f})", hint="call optimizer.step() after loss.backward(), "
                                                 "and return the trained w and b")
    hint = ("after 200 epochs at lr=0.05 the line should match the least-squares fit of the "
            "data (w ≈ 2, b ≈ -1): check the loss (mean of squared errors) and the update")
    assert_close(w, w_ls, "w after 200 epochs (least-squares fit)", rtol=0, atol=2e-3,
                 hint=hint)
    assert_close(b, b_ls, "b after 200 epochs (least-squares fit)", rtol=0, atol=2e-3,
                 hint=hint)


@pytest.mark.points(1)
def test_one_loss_per_epoch(student: Any, reference: types.ModuleType) -> None:
    """losses holds exactly one entry per epoch (len(losses) == n_epochs)"""
    X, y = reference.make_data(n_samples=40, seed=1)
    for n_epochs in (1, 17):
        _, _, losses = _train(student, X, y, n_epochs=n_epochs)
        if len(losses) != n_epochs:
            raise GradingFailure(f"{CALL}(n_epochs={n_epochs}): expected {n_epochs} losses "
                                 f"(one per epoch), got {len(losses)}",
                                 hint="append the loss exactly once per epoch")


@pytest.mark.points(1)
def test_losses_are_python_floats(student: Any, reference: types.ModuleType) -> None:
    """losses are Python floats (loss.item()), not tensors"""
    X, y = reference.make_data(n_samples=40, seed=2)
    _, _, losses = _train(student, X, y, n_epochs=5)
    for i, value in enumerate(losses):
        if isinstance(value, torch.Tensor):
            raise GradingFailure(
                f"{CALL}: losses must be Python floats, got a tensor at losses[{i}] "
                f"(requires_grad={value.requires_grad})",
                hint="append loss.item(): keeping the loss tensors keeps every epoch's graph "
                     "alive and makes the history impossible to plot or compare")
        if isinstance(value, bool) or not isinstance(value, float):
            raise GradingFailure(f"{CALL}: losses must be Python floats, got "
                                 f"{type(value).__name__} at losses[{i}]",
                                 hint="append loss.item()")


@pytest.mark.points(2)
def test_loss_recorded_before_each_update(student: Any, reference: types.ModuleType) -> None:
    """losses[0] is the loss at the seeded starting point, before the first update"""
    X, y = reference.make_data(n_samples=60, seed=4)
    _, _, expected = reference.train_linear_regression(X, y, n_epochs=20, lr=0.05, seed=2)
    _, _, losses = _train(student, X, y, n_epochs=20, lr=0.05, seed=2)
    got = _floats(losses, "losses")
    if not got:
        raise GradingFailure(f"{CALL}(n_epochs=20): returned no losses")
    if _close(got[0], expected[0]):
        return
    if _close(got[0], expected[1]):
        raise GradingFailure(
            f"losses[0]: expected {expected[0]:.6g} (the loss at the starting w and b), got "
            f"{got[0]:.6g}, which is the loss after the first update",
            hint="record loss.item() right after computing the loss, before optimizer.step(); "
                 "recording it after the update shifts the whole history by one epoch")
    raise GradingFailure(
        f"losses[0]: expected {expected[0]:.6g} (the loss at the starting w and b, before any "
        f"update), got {got[0]:.6g}",
        hint="set torch.manual_seed(seed), then draw w and then b with torch.randn(1) as the "
             "docstring says, and record the loss before the update")


def _diagnose_history(got: list[float], expected: list[float], default_lr: list[float],
                      n: int) -> str | None:
    if len(got) != len(expected):
        return f"expected {len(expected)} losses (one per epoch), got {len(got)}"
    if _close(got[0], expected[0] * n, rtol=1e-3):
        return ("the first loss is N times the expected one: the loss is a sum where the mean "
                "belongs (sum instead of mean)")
    if all(_close(g, d) for g, d in zip(got, default_lr, strict=True)):
        return ("your history is the one of lr=0.05, the default: the lr argument was not used "
                "(pass lr=lr to torch.optim.SGD)")
    if len(got) > 1 and all(_close(g, e) for g, e in zip(got, expected[1:], strict=False)):
        return "your history is shifted by one epoch: the loss was recorded after the update"
    return None


@pytest.mark.points(2)
def test_loss_history_matches_reference(student: Any, reference: types.ModuleType) -> None:
    """the loss history equals the reference's for another seed and learning rate"""
    X, y = reference.make_data(n_samples=80, noise=0.3, seed=5)
    kwargs = {"n_epochs": 40, "lr": 0.02, "seed": 3}
    _, _, expected = reference.train_linear_regression(X, y, **kwargs)
    _, _, losses = _train(student, X, y, **kwargs)
    got = _floats(losses, "losses")
    what = f"{CALL}(n_epochs=40, lr=0.02, seed=3): losses"
    if len(got) == len(expected) and all(_close(g, e) for g, e in zip(got, expected,
                                                                       strict=True)):
        return
    _, _, default_lr = reference.train_linear_regression(X, y, **{**kwargs, "lr": 0.05})
    bug = _diagnose_history(got, expected, default_lr, X.shape[0])
    if bug is not None:
        raise GradingFailure(f"{what} differ from the reference's: {bug}", hint=bug)
    assert_close(torch.tensor(got, dtype=torch.float64),
                 torch.tensor(expected, dtype=torch.float64), what, rtol=1e-4, atol=1e-6,
                 hint="one SGD step per epoch on the mean squared error, with the lr you were "
                      "given, from w and b drawn as the docstring says; the loss recorded "
                      "before the step")


@pytest.mark.points(1)
def test_losses_fall(student: Any, reference: types.ModuleType) -> None:
    """the loss falls from epoch to epoch (small learning rate, convex problem)"""
    X, y = reference.make_data(seed=6)
    _, _, losses = _train(student, X, y, n_epochs=50, lr=0.05, seed=1)
    got = _floats(losses, "losses")
    if len(got) < 2:
        raise GradingFailure(f"{CALL}(n_epochs=50): expected 50 losses, got {len(got)}")
    for epoch, (before, after) in enumerate(itertools.pairwise(got), start=1):
        if after > before * (1 + 1e-6) + 1e-9:
            raise GradingFailure(f"the loss went up at epoch {epoch}: {before:.6g} → {after:.6g}",
                                 hint="step against the gradient (SGD does this for you: "
                                      "loss.backward() then optimizer.step())")
    if not got[-1] < 0.5 * got[0]:
        raise GradingFailure(f"the loss barely fell in 50 epochs: {got[0]:.6g} → {got[-1]:.6g}",
                             hint="are the gradients reaching the optimizer? "
                                  "zero_grad, backward, step")


@pytest.mark.points(1)
def test_returns_detached_tensors(student: Any, reference: types.ModuleType) -> None:
    """w and b come back as detached tensors of shape [1] (requires_grad False)"""
    X, y = reference.make_data(n_samples=30, seed=7)
    w, b, _ = _train(student, X, y, n_epochs=3)
    for name, value in (("w", w), ("b", b)):
        tensor = require_tensor(value, f"{name} returned by {CALL}", shape=(1,))
        if tensor.requires_grad:
            raise GradingFailure(f"{name} returned by {CALL} still requires grad (it is the "
                                 "parameter itself, attached to autograd)",
                                 hint=f"return {name}.detach(): a plain tensor with the trained "
                                      "values, no longer tracked by autograd")


@pytest.mark.points(1)
def test_keeps_float64(student: Any, reference: types.ModuleType) -> None:
    """float64 data gives float64 w and b (parameters take X's dtype)"""
    X, y = reference.make_data(n_samples=50, seed=8)
    X, y = X.double(), y.double()
    w, b, _ = _train(student, X, y, n_epochs=200)
    w_ls, b_ls = _least_squares(X, y)
    assert_close(w, w_ls, "w trained on float64 data", rtol=0, atol=2e-3)
    assert_close(b, b_ls, "b trained on float64 data", rtol=0, atol=2e-3)


def _traced(student: Any, n_epochs: int) -> tuple[dict[str, Any], Any]:
    X, y = torch.linspace(-2, 2, 24).unsqueeze(1), torch.linspace(-5, 3, 24).unsqueeze(1)
    out = student.probe("train_linear_regression_traced", X, y, n_epochs, 0.05, 0)
    if not isinstance(out, dict):
        raise GradingFailure("the training loop could not be traced")
    return out.get("log"), out.get("result")


@pytest.mark.points(3)
def test_loop_order_each_epoch(student: Any) -> None:
    """each epoch clears the gradients, then runs backward, then steps (traced at run time)"""
    log, _ = _traced(student, 12)
    assert_loop_order(log, f"{CALL}(n_epochs=12)", strict_start=True)


def _optimizers(summary: LoopSummary) -> set[str]:
    return {str(e.get("optimizer")) for e in summary.events if e.get("kind") == "step"}


@pytest.mark.points(2)
def test_one_backward_and_one_sgd_step_per_epoch(student: Any) -> None:
    """exactly one backward() and one torch.optim.SGD step per epoch (traced at run time)"""
    n_epochs = 12
    log, _ = _traced(student, n_epochs)
    what = f"{CALL}(n_epochs={n_epochs})"
    summary = assert_loop_order(log, what, strict_start=True)
    if summary.optimizer_steps == 0:
        raise GradingFailure(
            f"{what}: no optimizer step was seen ({summary.updates} manual updates of w and b)",
            hint="this exercise is about torch.optim.SGD: create optimizer = "
                 "torch.optim.SGD([w, b], lr=lr) and call optimizer.step() each epoch")
    if _optimizers(summary) != {"SGD"}:
        raise GradingFailure(f"{what}: expected torch.optim.SGD, saw "
                             f"{', '.join(sorted(_optimizers(summary)))}",
                             hint="use torch.optim.SGD([w, b], lr=lr)")
    if summary.backwards != n_epochs:
        raise GradingFailure(f"{what}: expected {n_epochs} backward() calls (one per epoch), "
                             f"saw {summary.backwards}",
                             hint="one forward pass, one loss, one loss.backward() per epoch")
    if summary.optimizer_steps != n_epochs:
        raise GradingFailure(f"{what}: expected {n_epochs} optimizer steps (one per epoch), "
                             f"saw {summary.optimizer_steps}",
                             hint="call optimizer.step() exactly once per epoch")


@pytest.mark.points(2)
def test_training_speed(student: Any, reference_worker: Any, reference: types.ModuleType,
                        device: torch.device, record: dict[str, Any]) -> None:
    """training takes at most 3× the reference's time on the local device"""
    X, y = reference.make_data(n_samples=2000, seed=9)
    verdict = time_against_reference(student, reference_worker,
                                      "train_linear_regression_on_device", X, y, 1000, 0.05,
                                      str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, f"{CALL}(n_epochs=1000) on 2000 samples", record, key="train")
    assert_timed_result(verdict, "after 1000 epochs", record=record, key="train")
