"""Graders for lesson 2.3, part 2 — train(): the mini-batch loop written by hand.

The loop-logic tests hand ``train`` a grader-written network that computes correct gradients and
records which rows each batch held and which gradients each step received. Each behaviour is
judged on its own: the batches must be the seeded ones (the grader redraws them from
``torch.Generator().manual_seed(seed)`` and a ``torch.randperm`` per epoch, the short last batch
kept); every step must use the gradients of its batch at the current parameters (the grader
replays the run along the same batches with the reference's formulas and compares the batch
losses and the final parameters); each epoch's loss must be the batch losses' mean weighted by
batch size (N = 50 with batches of 16: the last batch holds 2). Together these pin the whole
trajectory of the seeded run.
The end-to-end tests run the student's own net: it must fit a sine curve, and train at a speed
comparable to the reference's on the local device.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from twolayer_problems import (
    NAMES,
    as_params,
    flat,
    forward,
    make_problem,
    plain_means,
    seeded_batches,
    weighted_means,
)

from loopgrader.checks import GradingFailure, as_float, assert_close, require_tensor
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

try:  # used only by a test that needs the reference (instructor grading only)
    from twolayer_math import replay
except ImportError:
    replay = None

N, D, H, OUT = 50, 3, 6, 2
BATCH, EPOCHS, LR, SEED = 16, 3, 0.2, 7
PER_EPOCH = math.ceil(N / BATCH)


def run_recorded(student: Any) -> dict[str, Any]:
    """train(recording net, ...) on the standard problem; the record, with its types checked."""
    params, X, y = make_problem(60, N, D, H, OUT)
    result = student.probe("train_with_recording_net", *flat(params), X, y, LR, EPOCHS, BATCH,
                           SEED)
    if not isinstance(result, dict) or not all(
            isinstance(result.get(k), list) for k in ("calls", "steps")):
        raise GradingFailure("could not read back how train used the network")
    result["start"], result["X"], result["y"] = params, X, y
    return result


def trained_batches(record: dict[str, Any]) -> list[list[int]]:
    """The batch each step trained on (the batch of the loss_and_grads call it came from)."""
    calls = record["calls"]
    return [list(calls[s["source"]]["batch"]) if 0 <= s["source"] < len(calls) else []
            for s in record["steps"]]


def epoch_losses(record: dict[str, Any]) -> list[float]:
    losses = record.get("losses")
    if not isinstance(losses, list):
        raise GradingFailure(f"train must return a list of floats, got {type(losses).__name__}")
    if len(losses) != EPOCHS:
        raise GradingFailure(f"train(n_epochs={EPOCHS}): expected {EPOCHS} losses (one per "
                             f"epoch), got {len(losses)}",
                             hint="append one number per epoch, after its last batch")
    return [as_float(v, f"train(...)[{i}]") for i, v in enumerate(losses)]


@pytest.mark.points(1)
def test_train_returns_one_float_per_epoch(student: Any) -> None:
    """train returns a list with one Python float per epoch"""
    record = run_recorded(student)
    epoch_losses(record)
    if not all(isinstance(v, float) for v in record["losses"]):
        kinds = sorted({type(v).__name__ for v in record["losses"]})
        raise GradingFailure(f"train must return Python floats, got {', '.join(kinds)}",
                             hint="convert each epoch's loss with float(...)")


@pytest.mark.points(2)
def test_train_takes_one_step_per_batch(student: Any) -> None:
    """train calls net.step once per mini-batch: ceil(N / batch_size) steps per epoch, the short
    last batch included"""
    record = run_recorded(student)
    steps = len(record["steps"])
    expected = EPOCHS * PER_EPOCH
    what = f"train(N={N}, batch_size={BATCH}, n_epochs={EPOCHS})"
    if steps != expected:
        named = {0: "net.step was never called: train must update the parameters through "
                    "net.step(grads, lr)",
                 EPOCHS * (N // BATCH): "the short last batch of every epoch was dropped: "
                                        "range(0, N, batch_size) also covers the last "
                                        f"{N % BATCH} samples",
                 EPOCHS: "one step per epoch: that is full-batch gradient descent, not "
                         "mini-batches",
                 EPOCHS * N: "one step per sample: use batches of batch_size samples"}
        raise GradingFailure(f"{what}: expected {expected} calls to net.step "
                             f"({PER_EPOCH} per epoch), saw {steps} (and "
                             f"{len(record['calls'])} calls to loss_and_grads)",
                             hint=named.get(steps, "one loss_and_grads and one step per batch"))
    sizes = [len(c["batch"]) for c in record["calls"]]
    want = ([BATCH] * (N // BATCH) + [N % BATCH]) * EPOCHS
    if sizes != want:
        raise GradingFailure(f"{what}: batch sizes: expected {want[:PER_EPOCH]} "
                             f"each epoch, got {sizes[:PER_EPOCH]} (first epoch)",
                             hint="cut the permutation into consecutive chunks of batch_size")


def _epochs(batches: list[list[int]]) -> list[list[list[int]]]:
    k = max(1, len(batches) // EPOCHS)
    return [batches[e * k:(e + 1) * k] for e in range(EPOCHS)]


@pytest.mark.points(2)
def test_train_shuffles_with_one_seeded_generator(student: Any) -> None:
    """train draws its batches from one torch.Generator().manual_seed(seed): a torch.randperm
    per epoch, cut into consecutive chunks of batch_size (X and y kept aligned)"""
    record = run_recorded(student)
    calls = record["calls"]
    if not calls:
        raise GradingFailure("train never called net.loss_and_grads",
                             hint="for each batch: loss, grads = net.loss_and_grads(xb, yb)")
    if any(-1 in c["batch"] or not c["batch"] for c in calls):
        raise GradingFailure("loss_and_grads was given rows that are not rows of X",
                             hint="index X with the batch's indices: X[idx]")
    if not all(c["aligned"] for c in calls):
        raise GradingFailure("the targets of a batch do not belong to its inputs: y[idx] must "
                             "use the same indices as X[idx]",
                             hint="index X and y with the same index tensor")
    got = [list(c["batch"]) for c in calls]
    expected = [b for epoch in seeded_batches(N, BATCH, EPOCHS, SEED) for b in epoch]
    if got == expected:
        return
    epochs = _epochs(got)
    flat = [sorted(i for b in epoch for i in b) for epoch in epochs]
    if got and got[0] == expected[0] and epochs[1] == epochs[0]:
        hint = ("every epoch repeats the first epoch's order: the generator was re-created (or "
                "re-seeded) every epoch; create it once, before the epoch loop")
    elif any(f != list(range(N)) for f in flat):
        hint = "every epoch must use each sample exactly once"
    elif [i for b in epochs[0] for i in b] == list(range(N)):
        hint = "the samples were not shuffled: draw torch.randperm(N, generator=generator)"
    else:
        hint = ("use order = torch.randperm(N, generator=generator) with "
                "generator = torch.Generator().manual_seed(seed) created once, then "
                "order[start:start + batch_size]")
    first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                 min(len(got), len(expected)))
    shown = got[first] if first < len(got) else "no batch"
    wanted = expected[first] if first < len(expected) else "no batch"
    raise GradingFailure(f"train(seed={SEED}): batch {first} (epoch {first // PER_EPOCH}) held "
                         f"rows {shown}, expected {wanted}", hint=hint)


@pytest.mark.points(3)
def test_train_steps_with_the_current_gradients(student: Any, reference: Any) -> None:
    """each step of train uses the gradients of the current batch, computed at the current
    parameters (replayed in the grader: same batches, same parameters at the end)"""
    record = run_recorded(student)
    if not record["steps"]:
        raise GradingFailure("train never called net.step(grads, lr)",
                             hint="for each batch: compute loss and grads, then step with them")
    for i, step in enumerate(record["steps"]):
        if step["source"] < 0:
            raise GradingFailure(f"step {i}: net.step received gradients that loss_and_grads "
                                 "did not return (changed, scaled or summed over batches?)",
                                 hint="pass the grads dict of the current batch as it is")
        if step["source"] != step["latest"]:
            behind = step["latest"] - step["source"]
            which = "the previous batch" if behind == 1 else f"the batch {behind} calls before"
            raise GradingFailure(f"step {i} used stale gradients: those of {which}, not of the "
                                 "batch whose gradients were computed just before it",
                                 hint="compute loss, grads = net.loss_and_grads(xb, yb) for "
                                      "this batch, then step with these grads")
        if step["stale_params"]:
            raise GradingFailure(f"step {i} used gradients computed before an earlier step, at "
                                 "parameters that had changed since",
                                 hint="compute each batch's gradients right before its step")
        if abs(step["lr"] - LR) > 1e-12:
            raise GradingFailure(f"step {i} was called with lr={step['lr']:g}, expected the lr "
                                 f"given to train ({LR:g})")
    losses, params = replay(reference, record["start"], record["X"], record["y"],
                            trained_batches(record), LR)
    got = as_params(record.get("params"), "the network's parameters after train")
    for name in NAMES:
        assert_close(got[name], params[name], f"params['{name}'] after train (against the "
                     "grader's replay of the same batches)", rtol=1e-9, atol=1e-12,
                     hint="one step per batch, with that batch's gradients")
    calls = record["calls"]
    seen = [calls[s["source"]]["loss"] for s in record["steps"]]
    assert_close(torch.tensor(seen, dtype=torch.float64), torch.tensor(losses, dtype=torch.float64),
                 "the batch losses along the run (against the grader's replay)", rtol=1e-9,
                 atol=1e-12)


@pytest.mark.points(2)
def test_train_epoch_loss_is_the_weighted_mean(student: Any) -> None:
    """train's epoch loss is the mean of the batch losses weighted by batch size (the short
    last batch counts for less)"""
    record = run_recorded(student)
    got = epoch_losses(record)
    calls = record["calls"]
    batch_losses = [float(c["loss"]) for c in calls]
    expected = weighted_means(batch_losses, [len(c["batch"]) for c in calls], EPOCHS)
    if expected is None or len(calls) != EPOCHS * PER_EPOCH:
        raise GradingFailure(f"train made {len(calls)} calls to loss_and_grads where "
                             f"{EPOCHS * PER_EPOCH} batches were expected, so its epoch losses "
                             "cannot be checked (see the test on steps per batch)")
    plain = plain_means(batch_losses, EPOCHS) or []
    k = len(batch_losses) // EPOCHS
    named = {"an unweighted mean of the batch losses: weight each batch loss by its batch "
             "size (sum of loss * len(batch), divided by N)": plain,
             "the last batch's loss, not the mean over the epoch":
                 [batch_losses[(e + 1) * k - 1] for e in range(EPOCHS)],
             "the sum of the batch losses weighted by size, not divided by N":
                 [v * N for v in expected]}
    for e, (g, want) in enumerate(zip(got, expected, strict=True)):
        if abs(g - want) > 1e-9 * max(1.0, abs(want)):
            hint = next((text for text, values in named.items() if len(values) == EPOCHS
                         and abs(values[e] - g) <= 1e-9 * max(1.0, abs(g))), None)
            raise GradingFailure(f"train(...)[{e}] (epoch {e}'s loss): expected {want:.8g}, the "
                                 f"batch losses weighted by batch size, got {g:.8g}",
                                 hint=f"that is {hint}" if hint else None)


@pytest.mark.points(2)
def test_train_fits_a_sine_curve(student: Any, reference: Any, record: dict[str, Any]) -> None:
    """TwoLayerNet(1, 16, 1) trained with train fits y = sin(x) on [-pi, pi] (MSE below 0.03)"""
    g = torch.Generator().manual_seed(0)
    X = torch.linspace(-math.pi, math.pi, 200).unsqueeze(1)
    y = torch.sin(X) + 0.05 * torch.randn(200, 1, generator=g)
    result = student.probe("train_student_net", X, y, 16, 0.05, 300, 32, 0)
    if not isinstance(result, dict):
        raise GradingFailure("could not read back the trained network")
    curve = result.get("losses")
    if isinstance(curve, list) and all(isinstance(v, (int, float)) for v in curve):
        ref_curve = reference.train(reference.TwoLayerNet(1, 16, 1, seed=0), X, y, lr=0.05,
                                    n_epochs=300, batch_size=32, seed=0)
        record["curves"] = {"loss": {"student": [float(v) for v in curve],
                                     "reference": ref_curve}}
    params = as_params(result.get("params"), "net.params after train")
    for name, shape in {"W1": (1, 16), "b1": (16,), "W2": (16, 1), "b2": (1,)}.items():
        require_tensor(params[name], f"params['{name}'] after train", shape=shape)
    grid = torch.linspace(-math.pi, math.pi, 101, dtype=torch.float64).unsqueeze(1)
    fitted = {k: v.detach().to(torch.float64) for k, v in params.items()}
    error = float(((forward(fitted, grid) - torch.sin(grid)) ** 2).mean())
    if not math.isfinite(error) or error > 0.03:
        raise GradingFailure(f"after train(net, X, y, lr=0.05, n_epochs=300, batch_size=32), the "
                             f"net's MSE against sin(x) on a clean grid is {error:.4g} "
                             "(expected below 0.03; a straight line gets about 0.2)",
                             hint="check the other tests first: gradients, step, batches")


@pytest.mark.points(2)
def test_training_speed(student: Any, reference_worker: Any, device: Any,
                        record: dict[str, Any]) -> None:
    """train runs at a speed comparable to the reference on the local device (at most 3× its
    time)"""
    g = torch.Generator().manual_seed(70)
    X = torch.randn(1024, 8, generator=g)
    y = torch.tanh(X[:, :4]) + 0.1 * torch.randn(1024, 4, generator=g)
    verdict = time_against_reference(student, reference_worker, "train_for_timing", X, y, 64,
                                     str(device), 40, 32, 0.05, device=str(device), allowed=3.0)
    assert_timing(verdict, "train (1024 samples, batches of 32, 40 epochs)", record,
                  key="train")
    assert_timed_result(verdict, "after 40 epochs", loose=1.0, atol=0.01, record=record,
                        key="train")
