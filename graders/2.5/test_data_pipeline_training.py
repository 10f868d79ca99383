"""Graders for lesson 2.5, part 2 — train_epoch and evaluate.

Both run on a small Linear -> Tanh -> Linear model in float64 (float32 on mps), with an
unshuffled loader of N = 50 samples in batches of 16 (the last batch holds 2, so an unweighted
mean of batch losses is visibly wrong) and ``nn.MSELoss()`` (reduction "mean"). The model lives
on the device under test while the loader yields cpu batches that notice whether they were moved
with ``.to(device)``. The loop is traced (forward modes, zero_grad/backward/step order) and the
run is replayed here with the reference; an epoch of the whole pipeline is timed against the
reference on the local device.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from loopgrader.checks import GradingFailure, as_float, assert_close
from loopgrader.checks.failures import StudentError
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

N, D, H, OUT = 50, 3, 6, 2
BATCH, LR, MOMENTUM = 16, 0.1, 0.5
N_BATCHES = math.ceil(N / BATCH)
MOVE_HINT = "move each batch to the device first: xb, yb = xb.to(device), yb.to(device)"


def dtype_for(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def problem(seed: int, dtype: torch.dtype) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                    torch.Tensor]:
    """A model state (nn.Sequential keys), X [N, D] and y [N, OUT], from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    state = {"0.weight": torch.randn(H, D, generator=g, dtype=dtype) / math.sqrt(D),
             "0.bias": 0.1 * torch.randn(H, generator=g, dtype=dtype),
             "2.weight": torch.randn(OUT, H, generator=g, dtype=dtype) / math.sqrt(H),
             "2.bias": 0.1 * torch.randn(OUT, generator=g, dtype=dtype)}
    X = torch.randn(N, D, generator=g, dtype=dtype)
    y = torch.sin(X[:, :OUT]) + 0.1 * torch.randn(N, OUT, generator=g, dtype=dtype)
    return state, X, y


def build_model(state: dict[str, torch.Tensor]) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(D, H), nn.Tanh(), nn.Linear(H, OUT)).to(
        state["0.weight"].dtype)
    model.load_state_dict(state)
    return model


def run(student: Any, probe: str, *args: Any) -> dict[str, Any]:
    """Run a probe; a device-mismatch error in the student's code is named as such."""
    try:
        result = student.probe(probe, *args)
    except StudentError as error:
        if "device" in error.message and not error.not_implemented:
            raise GradingFailure(error.message, hint=MOVE_HINT) from None
        raise
    if not isinstance(result, dict):
        raise GradingFailure(f"could not read back what {probe} did")
    return result


def train_run(student: Any, device: torch.device, seed: int = 1) -> dict[str, Any]:
    state, X, y = problem(seed, dtype_for(device))
    result = run(student, "train_epoch_run", state, X, y, BATCH, LR, MOMENTUM, str(device))
    result["problem"] = (state, X, y)
    return result


def eval_run(student: Any, device: torch.device, seed: int = 2) -> dict[str, Any]:
    state, X, y = problem(seed, dtype_for(device))
    result = run(student, "evaluate_run", state, X, y, BATCH, str(device))
    result["problem"] = (state, X, y)
    return result


def model_forwards(result: dict[str, Any], what: str) -> list[dict[str, Any]]:
    log = result.get("log")
    events = log.get("events", []) if isinstance(log, dict) else []
    forwards = [e for e in events if isinstance(e, dict) and e.get("kind") == "forward"
                and e.get("module") == "Sequential"]
    if not forwards:
        raise GradingFailure(f"{what} never called the model", hint="call model(xb) on each batch")
    return forwards


def returned_float(result: dict[str, Any], what: str) -> float:
    value = result.get("loss")
    if isinstance(value, torch.Tensor):
        raise GradingFailure(f"{what} returned a tensor, the contract asks for a Python float",
                             hint="accumulate loss.item() (a float): summing loss tensors keeps "
                                  "every batch's graph alive")
    return as_float(value, f"the value returned by {what}")


def check_weighted_mean(got: float, batch_losses: list[float], sizes: list[int],
                        expected: float, what: str, device: torch.device) -> None:
    rtol = 1e-9 if dtype_for(device) == torch.float64 else 1e-5
    tol = rtol * max(1.0, abs(expected))
    if abs(got - expected) <= tol:
        return
    named = {}
    if batch_losses:
        named = {"an unweighted mean of the batch losses: weight each by its batch size "
                 "(sum of loss * len(xb), divided by the number of samples)":
                     sum(batch_losses) / len(batch_losses),
                 "the last batch's loss only": batch_losses[-1],
                 "the sum of the batch losses, not their mean": sum(batch_losses),
                 "the size-weighted sum, not divided by the number of samples":
                     sum(a * b for a, b in zip(batch_losses, sizes, strict=True))}
    hint = next((text for text, value in named.items() if abs(value - got) <= tol), None)
    raise GradingFailure(f"{what}: expected {expected:.10g} (the mean of the batch losses "
                         f"weighted by batch size; the last batch holds {N % BATCH} samples), got "
                         f"{got:.10g}", hint=f"that is {hint}" if hint else None)


RECOMPUTED = ("the recorded loss is not the loss the step was computed from: train_epoch "
              "computes each batch's loss again after optimizer.step() (with the updated "
              "weights) and records that one")
RECOMPUTED_HINT = ("record the loss you called backward() on, before the step: "
                   "total += loss.item() * len(xb) right after loss.backward() or "
                   "optimizer.step(), without a second forward pass")


def after_step_forwards(result: dict[str, Any]) -> list[bool]:
    """For each forward pass of the model, in order: whether it ran after the batch's
    optimizer.step() and was never backpropagated (a loss recomputed after the update)."""
    log = result.get("log")
    events = log.get("events", []) if isinstance(log, dict) else []
    kinds = [e.get("kind") if e.get("kind") != "forward" or e.get("module") == "Sequential"
             else None for e in events if isinstance(e, dict)]
    kinds = [k for k in kinds if k in ("forward", "backward", "step", "end")]
    flags = []
    for i, kind in enumerate(kinds):
        if kind != "forward":
            continue
        before = next((k for k in reversed(kinds[:i]) if k != "forward"), None)
        after = next((k for k in kinds[i + 1:]), "end")
        flags.append(before == "step" and after != "backward")
    return flags


# --- train_epoch --------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_train_epoch_steps_like_the_reference(student: Any, reference: Any,
                                              device: torch.device) -> None:
    """train_epoch takes one SGD step per batch: the parameters after one epoch equal the
    reference's"""
    result = train_run(student, device)
    state, X, y = result["problem"]
    model = build_model(state)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=False)
    reference.train_epoch(model, loader, optimizer, nn.MSELoss(), torch.device("cpu"))
    got = result.get("state")
    if not isinstance(got, dict):
        raise GradingFailure("could not read the model back after train_epoch")
    rtol = 1e-9 if dtype_for(device) == torch.float64 else 1e-4
    for key, expected in model.state_dict().items():
        assert_close(got.get(key), expected, f"model.state_dict()['{key}'] after one epoch",
                     rtol=rtol, atol=rtol * 1e-3,
                     hint="for each batch: zero_grad(), loss = loss_fn(model(xb), yb), "
                          "loss.backward(), optimizer.step()")


@pytest.mark.points(2)
def test_train_epoch_loop_order(student: Any, device: torch.device) -> None:
    """train_epoch clears gradients, then backward, then step: once per batch, in that order"""
    result = train_run(student, device)
    assert_loop_order(result.get("log"), f"train_epoch over {N_BATCHES} batches",
                      expected_steps=N_BATCHES)


@pytest.mark.points(2)
def test_train_epoch_uses_train_mode(student: Any, device: torch.device) -> None:
    """train_epoch runs the model in train mode, even when it was left in eval mode"""
    result = train_run(student, device)
    forwards = model_forwards(result, "train_epoch")
    in_eval = sum(1 for e in forwards if not e.get("training"))
    if in_eval:
        raise GradingFailure(f"train_epoch: {in_eval} of {len(forwards)} forward passes ran with "
                             "the model in eval mode (it had been left in eval mode before)",
                             hint="call model.train() at the start of train_epoch: dropout and "
                                  "batch norm behave differently in eval mode")
    if not all(e.get("grad_enabled") for e in forwards):
        if any(after_step_forwards(result)):
            raise GradingFailure(RECOMPUTED, hint=RECOMPUTED_HINT)
        raise GradingFailure("train_epoch ran a forward pass with gradients disabled",
                             hint="no torch.no_grad() around the training forward pass")


@pytest.mark.points(1)
def test_train_epoch_moves_batches_to_the_device(student: Any, device: torch.device) -> None:
    """train_epoch moves every batch (inputs and targets) to the device before using it"""
    result = train_run(student, device)
    unmoved = sum(1 for flag in result.get("unmoved_inputs", []) if flag)
    if unmoved:
        raise GradingFailure(f"train_epoch gave the model {unmoved} batch(es) of inputs that were "
                             f"never moved with .to(device) (device: {device})", hint=MOVE_HINT)
    calls = result.get("calls", [])
    if any(c.get("unmoved_target") for c in calls):
        raise GradingFailure("train_epoch gave loss_fn targets that were never moved with "
                             ".to(device)", hint=MOVE_HINT)


@pytest.mark.points(2)
def test_train_epoch_returns_the_weighted_mean_loss(student: Any, device: torch.device) -> None:
    """train_epoch returns the epoch's loss as a float: the batch losses' mean weighted by batch
    size (the short last batch counts for less)"""
    result = train_run(student, device)
    got = returned_float(result, "train_epoch")
    calls = result.get("calls", [])
    if not calls:
        raise GradingFailure("train_epoch never called loss_fn",
                             hint="loss = loss_fn(model(xb), yb) for each batch")
    recomputed = after_step_forwards(result)
    if any(recomputed) and len(recomputed) == len(calls):
        stepped = [c for c, late in zip(calls, recomputed, strict=True) if not late]
        late_calls = [c for c, late in zip(calls, recomputed, strict=True) if late]
        expected = (sum(float(c["loss"]) * int(c["size"]) for c in stepped)
                    / max(1, sum(int(c["size"]) for c in stepped)))
        if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12):
            n_late = len(late_calls)
            raise GradingFailure(f"{RECOMPUTED} ({n_late} of {len(calls)} loss_fn calls came "
                                 f"after a step; expected {expected:.10g}, got {got:.10g})",
                                 hint=RECOMPUTED_HINT)
    losses = [float(c["loss"]) for c in calls]
    sizes = [int(c["size"]) for c in calls]
    expected = sum(a * b for a, b in zip(losses, sizes, strict=True)) / sum(sizes)
    check_weighted_mean(got, losses, sizes, expected, "the loss returned by train_epoch", device)


# --- evaluate -----------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_evaluate_uses_eval_mode(student: Any, device: torch.device) -> None:
    """evaluate runs the model in eval mode (it was left in train mode)"""
    result = eval_run(student, device)
    forwards = model_forwards(result, "evaluate")
    in_train = sum(1 for e in forwards if e.get("training"))
    if in_train:
        raise GradingFailure(f"evaluate: {in_train} of {len(forwards)} forward passes ran with "
                             "the model in train mode",
                             hint="call model.eval() before evaluating: dropout would still drop "
                                  "units and batch norm would use batch statistics")


@pytest.mark.points(2)
def test_evaluate_builds_no_graph(student: Any, device: torch.device) -> None:
    """evaluate runs its forward passes with gradients disabled (torch.no_grad or
    torch.inference_mode) and never calls backward"""
    result = eval_run(student, device)
    forwards = model_forwards(result, "evaluate")
    with_grad = sum(1 for e in forwards if e.get("grad_enabled"))
    if with_grad:
        raise GradingFailure(f"evaluate: {with_grad} of {len(forwards)} forward passes built an "
                             "autograd graph (gradients were enabled)",
                             hint="wrap the evaluation loop in `with torch.no_grad():` (or "
                                  "torch.inference_mode()): it saves memory and time")
    events = result["log"].get("events", [])
    if any(e.get("kind") in ("backward", "autograd_grad", "step") for e in events):
        raise GradingFailure("evaluate called backward() or an optimizer step",
                             hint="evaluation only measures the loss; it never trains")


@pytest.mark.points(1)
def test_evaluate_leaves_the_model_unchanged(student: Any, device: torch.device) -> None:
    """evaluate changes neither the parameters nor their gradients"""
    result = eval_run(student, device)
    state = result["problem"][0]
    got = result.get("state")
    if not isinstance(got, dict):
        raise GradingFailure("could not read the model back after evaluate")
    for key, expected in state.items():
        assert_close(got.get(key), expected, f"model.state_dict()['{key}'] after evaluate",
                     rtol=0, atol=0, hint="evaluate must not train the model")
    grads = result.get("grads")
    if not isinstance(grads, list) or len(grads) != len(state):
        raise GradingFailure("could not read the gradients back after evaluate")
    for i, (grad, (key, value)) in enumerate(zip(grads, state.items(), strict=True)):
        expected = torch.full_like(value, 0.25 * (i + 1))
        if grad is None:
            raise GradingFailure(f"evaluate cleared the gradient of '{key}'",
                                 hint="evaluate does not touch gradients (no zero_grad needed)")
        assert_close(grad, expected, f"the gradient of '{key}' after evaluate", rtol=0, atol=0,
                     hint="evaluate must not call backward()")


@pytest.mark.points(2)
def test_evaluate_returns_the_weighted_mean_loss(student: Any, device: torch.device) -> None:
    """evaluate returns a float: the mean loss over all samples (batch losses weighted by batch
    size)"""
    result = eval_run(student, device)
    got = returned_float(result, "evaluate")
    state, X, y = result["problem"]
    model = build_model(state)
    with torch.no_grad():
        expected = float(nn.functional.mse_loss(model(X), y))
        losses = [float(nn.functional.mse_loss(model(X[i:i + BATCH]), y[i:i + BATCH]))
                  for i in range(0, N, BATCH)]
    sizes = [len(range(i, min(i + BATCH, N))) for i in range(0, N, BATCH)]
    check_weighted_mean(got, losses, sizes, expected, "the loss returned by evaluate", device)


# --- timing -------------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_epoch_speed(student: Any, reference_worker: Any, device: torch.device,
                     record: dict[str, Any]) -> None:
    """one epoch (TensorPairDataset, make_loader, train_epoch) runs at a speed comparable to the
    reference on the local device (at most 3× its time)"""
    g = torch.Generator().manual_seed(9)
    X = torch.randn(2048, 32, generator=g)
    y = X[:, :1].sin() + 0.1 * torch.randn(2048, 1, generator=g)
    verdict = time_against_reference(student, reference_worker, "epoch_for_timing", X, y, 256,
                                     64, str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, "one epoch (2048 samples, batches of 64)", record, key="epoch")
    assert_timed_result(verdict, "after one epoch", loose=0.05, atol=1e-3, record=record,
                        key="epoch")
