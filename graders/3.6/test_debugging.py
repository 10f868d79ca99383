"""Graders for lesson 3.6 — the four bugs of buggy_train, and the training monitor.

Each bug is checked at run time by its own test, so each fix earns its own points:

1. gradients cleared every batch: the traced loop (zero_grad or ``p.grad = None`` before
   backward, one step per batch);
2. validation in eval mode without a graph: the mode and grad mode of every validation forward;
3. cross-entropy: with a learning rate of 0 the model never changes, so the returned losses are
   exactly the model's cross-entropy on the data, computed here;
4. batches moved to the device: the loaders' batches record whether ``.to(device)`` was applied
   before they were used (see probes.py: this works on a machine without a GPU).

The monitor is judged on clear-cut runs recorded in the worker: healthy, exploding (a learning
rate far too high), stalled (a learning rate far too low) and one where NaN enters the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from loopgrader.checks import GradingFailure, as_float, assert_close, unpack
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

LAYERS: dict[str, Callable[..., nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh,
                                               "batchnorm": nn.BatchNorm1d,
                                               "dropout": nn.Dropout}
PLAIN = [["linear", 6, 12], ["tanh"], ["linear", 12, 3]]
WITH_BN = [["linear", 6, 16], ["batchnorm", 16], ["relu"], ["linear", 16, 3]]
EPOCHS = 2


def build(spec: list[list[Any]], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                           else LAYERS[str(item[0])](*item[1:]) for item in spec])


def state_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def make_data(seed: int, n_train: int = 24, n_val: int = 15) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X, Xv = torch.randn(n_train, 6, generator=g), torch.randn(n_val, 6, generator=g)
    return {"X": X, "y": torch.randint(0, 3, (n_train,), generator=g),
            "Xv": Xv, "yv": torch.randint(0, 3, (n_val,), generator=g)}


def as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradingFailure(f"{what} did not complete")
    return result


def traced(student: Any, spec: list[list[Any]], seed: int, data: dict[str, Tensor],
           batch_sizes: tuple[int, int], lr: float, momentum: float = 0.0,
           epochs: int = EPOCHS) -> tuple[dict[str, Any], nn.Module]:
    model = build(spec, seed)
    result = as_dict(student.probe("train_traced", spec, state_of(model), data,
                                   list(batch_sizes), lr, momentum, epochs), "train")
    return result, model


def loss_lists(result: Any, epochs: int) -> tuple[list[float], list[float]]:
    """train's return value: two lists of one float per epoch."""
    names = ("train_losses", "val_losses")
    pair = []
    for name, values in zip(names, unpack(result, names, what="train"), strict=True):
        if not isinstance(values, list) or len(values) != epochs:
            count = len(values) if isinstance(values, list) else type(values).__name__
            raise GradingFailure(f"train(epochs={epochs}): {name} must be a list of {epochs} "
                                 f"floats (one per epoch), got {count}")
        pair.append([as_float(v, f"{name}[{i}]") for i, v in enumerate(values)])
    return pair[0], pair[1]


def mean_loss(model: nn.Module, X: Tensor, y: Tensor, batch: int | None = None,
              mse: bool = False) -> float:
    """The model's loss on (X, y) in eval mode: the sample mean, or the mean of batch means."""
    model.eval()
    with torch.no_grad():
        logits = model(X)
        if mse:
            return float(F.mse_loss(logits, F.one_hot(y, logits.shape[1]).float()))
        if batch is None:
            return float(F.cross_entropy(logits, y))
        parts = [float(F.cross_entropy(logits[i:i + batch], y[i:i + batch]))
                 for i in range(0, len(y), batch)]
        return sum(parts) / len(parts)


# --- bug 1: gradients ----------------------------------------------------------------------------

@pytest.mark.points(2)
def test_train_clears_gradients_every_batch(student: Any) -> None:
    """bug 1 fixed: train clears the gradients before every backward, one step per batch"""
    result, _ = traced(student, PLAIN, 0, make_data(0), (8, 5), lr=0.05)
    assert_loop_order(result["log"], f"train(epochs={EPOCHS}) on 3 batches per epoch",
                      expected_steps=EPOCHS * 3)


# --- bug 2: validation -------------------------------------------------------------------------

@pytest.mark.points(2)
def test_validation_in_eval_mode_without_graph(student: Any) -> None:
    """bug 2 fixed: validation runs in eval mode under torch.no_grad(); training in train mode"""
    result, _ = traced(student, WITH_BN, 1, make_data(1), (8, 5), lr=0.05)
    forwards = result["forwards"]
    val = [(training, grad) for size, training, grad in forwards if size == 5]
    trained = [(training, grad) for size, training, grad in forwards if size == 8]
    if len(val) != EPOCHS * 3 or len(trained) != EPOCHS * 3:
        raise GradingFailure(f"train(epochs={EPOCHS}): expected {EPOCHS * 3} training and "
                             f"{EPOCHS * 3} validation forward passes (3 batches each per "
                             f"epoch), saw {len(trained)} and {len(val)}")
    in_train_mode = sum(1 for training, _ in val if training)
    with_graph = sum(1 for _, grad in val if grad)
    problems = []
    if in_train_mode:
        problems.append(f"{in_train_mode} of {len(val)} validation batches ran in train mode "
                        "(BatchNorm used batch statistics and updated its running ones)")
    if with_graph:
        problems.append(f"{with_graph} of {len(val)} validation batches built an autograd "
                        "graph")
    if problems:
        hint = " and ".join(
            (["call model.eval() before validating"] if in_train_mode else []) +
            (["wrap validation in torch.no_grad()"] if with_graph else []))
        raise GradingFailure("validation: " + "; ".join(problems), hint=hint)
    bad_train = [i for i, (training, grad) in enumerate(trained) if not (training and grad)]
    if bad_train:
        raise GradingFailure(f"training batch {bad_train[0] + 1} (of {len(trained)}) ran in "
                             "eval mode or without gradients",
                             hint="call model.train() at the start of every epoch: validation "
                                  "switched the model to eval mode")


# --- bug 3: the loss ---------------------------------------------------------------------------

@pytest.mark.points(2)
def test_train_uses_cross_entropy(student: Any) -> None:
    """bug 3 fixed: train computes the cross-entropy of the logits and labels"""
    data = make_data(2)
    result, model = traced(student, PLAIN, 2, data, (8, 5), lr=0.0)
    train_losses, val_losses = loss_lists(result["result"], EPOCHS)
    expected = {"training": (train_losses, mean_loss(model, data["X"], data["y"]),
                             mean_loss(model, data["X"], data["y"], mse=True)),
                "validation": (val_losses, mean_loss(model, data["Xv"], data["yv"]),
                               mean_loss(model, data["Xv"], data["yv"], mse=True))}
    for which, (got, ce, mse) in expected.items():
        for epoch, value in enumerate(got):
            if abs(value - ce) > 1e-5 * max(1.0, abs(ce)):
                hint = ("this is MSELoss against one-hot targets: a classifier's logits need "
                        "nn.CrossEntropyLoss() with the class indices"
                        if abs(value - mse) <= 1e-5 * max(1.0, abs(mse)) else
                        "use nn.CrossEntropyLoss() on the logits and the integer labels")
                raise GradingFailure(f"{which} loss of epoch {epoch + 1} with a learning rate of "
                                     f"0 (the model never changes): expected the cross-entropy "
                                     f"{ce:.6f}, got {value:.6f}", hint=hint)


# --- bug 4: the device -------------------------------------------------------------------------

@pytest.mark.points(2)
def test_train_moves_batches_to_device(student: Any, device: torch.device) -> None:
    """bug 4 fixed: train moves every batch (inputs and labels) to the device before using it"""
    model = build(PLAIN, 3)
    result = as_dict(student.probe("train_moving", PLAIN, state_of(model), make_data(3),
                                   [8, 5], str(device), EPOCHS), "train")
    uses = [str(u).rsplit(":", 1) for u in result["uses"]]
    if uses:
        ops = list(dict.fromkeys(op for op, _ in uses))
        sizes = {size for _, size in uses}
        where = [name for name, size in (("training", "8"), ("validation", "5"))
                 if size in sizes] or ["training or validation"]
        raise GradingFailure(
            f"train used {' and '.join(where)} batches that were never moved to the device (in: "
            f"{', '.join(ops[:4])}); on a GPU this fails with 'Expected all tensors to be on "
            "the same device'",
            hint="x.to(device) was called but its result was not used: .to() returns a new "
                 "tensor and leaves x where it is; write x = x.to(device)"
            if len(result["moves"]) >= 2 * result["batches"] else
            "x, y = x.to(device), y.to(device) at the start of every batch, in training "
            "and in validation (x.to(device) returns a new tensor: keep the result)")
    wrong = [target for target in result["moves"]
             if torch.device(target).type != device.type]
    if wrong:
        raise GradingFailure(f"train moved batches to {wrong[0]}, not to the device it was "
                             f"given ({device})", hint="use the device argument")
    if len(result["moves"]) < 2 * result["batches"]:
        raise GradingFailure(f"train moved {len(result['moves'])} tensors for "
                             f"{result['batches']} batches of (x, y)",
                             hint="move both x and y of every batch")


# --- what train returns --------------------------------------------------------------------------

@pytest.mark.points(1)
def test_train_losses_are_sample_weighted(student: Any) -> None:
    """train's epoch losses weight each batch by its size (a short last batch counts less)"""
    data = make_data(4, n_train=22, n_val=13)
    result, model = traced(student, PLAIN, 4, data, (8, 5), lr=0.0)
    train_losses, val_losses = loss_lists(result["result"], EPOCHS)
    cases = {"training": (train_losses[0], data["X"], data["y"], 8),
             "validation": (val_losses[0], data["Xv"], data["yv"], 5)}
    for which, (got, X, y, batch) in cases.items():
        expected = mean_loss(model, X, y)
        if abs(got - expected) > 1e-5 * max(1.0, expected):
            averaged = mean_loss(model, X, y, batch=batch)
            raise GradingFailure(
                f"{which} loss over {len(y)} samples in batches of {batch}: expected the "
                f"sample mean {expected:.6f}, got {got:.6f}",
                hint="that is the mean of the batch means: weight each batch's loss by its "
                     "size (total += loss.item() * len(x)) and divide by the number of samples"
                if abs(got - averaged) <= 1e-5 * max(1.0, averaged) else None)


@pytest.mark.points(1)
def test_train_leaves_model_in_train_mode(student: Any) -> None:
    """train leaves the model (and every submodule) in train mode"""
    result, _ = traced(student, WITH_BN, 5, make_data(5), (8, 5), lr=0.05)
    off = [name for name, training in result["modes"].items() if not training]
    if off:
        raise GradingFailure(f"after train, {', '.join(off)} are in eval mode",
                             hint="call model.train() after the last validation")


@pytest.mark.points(2)
def test_train_matches_a_correct_run(student: Any, reference: Any) -> None:
    """train's losses and final weights match a correct loop's on the same seeded run"""
    data = make_data(6)
    epochs, lr, momentum = 3, 0.05, 0.9
    result, model = traced(student, WITH_BN, 6, data, (8, 5), lr=lr, momentum=momentum,
                           epochs=epochs)
    got_train, got_val = loss_lists(result["result"], epochs)
    expected_train, expected_val = reference.train(
        model, DataLoader(TensorDataset(data["X"], data["y"]), batch_size=8),
        DataLoader(TensorDataset(data["Xv"], data["yv"]), batch_size=5),
        torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum), torch.device("cpu"),
        epochs)
    for which, got, expected in (("training", got_train, expected_train),
                                 ("validation", got_val, expected_val)):
        assert_close(torch.tensor(got, dtype=torch.float64),
                     torch.tensor(expected, dtype=torch.float64),
                     f"{which} losses per epoch (SGD with momentum, BatchNorm model)",
                     rtol=1e-4, atol=1e-6,
                     hint="fix all four bugs: zero_grad before backward, eval() and no_grad() "
                          "for validation, CrossEntropyLoss, batches moved to the device")
    for name, value in state_of(model).items():
        assert_close(result["state"][name], value, f"{name} after train", rtol=1e-4,
                     atol=1e-6)


@pytest.mark.points(1)
def test_train_speed(student: Any, reference_worker: Any, device: torch.device,
                     record: dict[str, Any]) -> None:
    """train runs about as fast as the reference on the local device"""
    spec = [["linear", 32, 128], ["relu"], ["linear", 128, 10]]
    model = build(spec, 7)
    g = torch.Generator().manual_seed(8)
    data = {"X": torch.randn(512, 32, generator=g), "y": torch.randint(0, 10, (512,), generator=g),
            "Xv": torch.randn(256, 32, generator=g),
            "yv": torch.randint(0, 10, (256,), generator=g)}
    verdict = time_against_reference(student, reference_worker, "train_for_timing", spec,
                                     state_of(model), data, [64, 128], str(device), 5,
                                     device=str(device), allowed=3.0)
    assert_timing(verdict, "train", record, key="train")
    assert_timed_result(verdict, "after 5 epochs", record=record, key="train")


# --- the monitor -------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_monitor_log_records_loss_grad_norm_and_lr(student: Any) -> None:
    """TrainingMonitor.log appends step, loss, global gradient norm (L2) and learning rate"""
    model = build(PLAIN, 9)
    g = torch.Generator().manual_seed(10)
    grads: dict[str, Tensor | None] = {name: torch.randn(p.shape, generator=g)
                                       for name, p in model.named_parameters()}
    grads["2.bias"] = None
    result = as_dict(student.probe("monitor_log", PLAIN, state_of(model), grads, 7, 0.25,
                                   0.03), "TrainingMonitor.log")
    history = result["history"]
    if not isinstance(history, list) or len(history) != 1 or not isinstance(history[0], dict):
        raise GradingFailure("after one log() call, TrainingMonitor.history must hold one dict, "
                             f"got {history!r:.120}")
    entry = history[0]
    missing = [k for k in ("step", "loss", "grad_norm", "lr") if k not in entry]
    if missing:
        raise GradingFailure(f"the history entry has no {', '.join(missing)} "
                             f"(keys: {sorted(entry)})")
    present = [t for t in grads.values() if t is not None]
    expected = {"step": 7.0, "loss": 0.25, "lr": 0.03,
                "grad_norm": float(torch.stack([t.pow(2).sum() for t in present]).sum().sqrt())}
    variants = {
        sum(float(t.norm()) for t in present): "that is the sum of the per-parameter norms; "
                                               "the global norm is the square root of the sum "
                                               "of all squared entries",
        float(torch.stack([t.pow(2).sum() for t in present]).sum()): "the square root is "
                                                                      "missing",
        float(present[0].norm()): "only the first parameter's gradient was used",
    }
    for key, value in expected.items():
        got = as_float(entry[key], f"history[0][{key!r}]")
        if abs(got - value) > 1e-5 * max(1.0, abs(value)):
            hint = next((h for v, h in variants.items() if abs(got - v) <= 1e-5 * max(1.0, v)),
                        None) if key == "grad_norm" else None
            raise GradingFailure(f"history[0][{key!r}]: expected {value:.6g}, got {got:.6g}",
                                 hint=hint)


def diagnosis(student: Any, run: str) -> list[str]:
    result = as_dict(student.probe("monitor_run", run), f"the {run} run")
    codes = result["codes"]
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise GradingFailure(f"diagnose() must return a list of strings, got {codes!r:.80}")
    return codes


def describe_run(run: str) -> str:
    return {"healthy": "a healthy run (the loss falls steadily)",
            "exploding": "a run with a learning rate far too high (the loss grows from 63 to "
                         "about 3e19)",
            "stalled": "a run with a learning rate far too low (the loss stays at 63)",
            "nan": "a run where NaN entered the data at step 12"}[run]


@pytest.mark.points(1)
def test_monitor_healthy_run(student: Any) -> None:
    """TrainingMonitor.diagnose finds nothing wrong with a healthy run"""
    codes = diagnosis(student, "healthy")
    if codes:
        raise GradingFailure(f"diagnose() on {describe_run('healthy')}: expected [], got {codes}",
                             hint="your thresholds are too tight for a run whose loss falls "
                                  "by a few percent per step")


@pytest.mark.points(2)
@pytest.mark.parametrize("run,code,absent", [("exploding", "exploding", ("nan", "plateau")),
                                             ("stalled", "plateau", ("nan", "exploding")),
                                             ("nan", "nan", ())],
                         ids=["exploding", "stalled", "nan"])
def test_monitor_diagnoses_broken_run(student: Any, run: str, code: str,
                                      absent: tuple[str, ...]) -> None:
    """TrainingMonitor.diagnose names what went wrong in an exploding, stalled or NaN run"""
    codes = diagnosis(student, run)
    hints = {"exploding": "compare the latest losses (or gradient norms) with the first ones",
             "plateau": "compare the loss a few steps ago with the latest one: nearly equal "
                        "means it stopped improving",
             "nan": "math.isnan(loss) (or not math.isfinite) on every recorded loss; note that "
                    "comparisons with NaN are always False"}
    if code not in codes:
        raise GradingFailure(f"diagnose() on {describe_run(run)}: expected {code!r} among the "
                             f"codes, got {codes}", hint=hints[code])
    wrong = [c for c in absent if c in codes]
    if wrong:
        raise GradingFailure(f"diagnose() on {describe_run(run)} also reported {wrong[0]!r}, "
                             f"which does not describe it (codes: {codes})")
