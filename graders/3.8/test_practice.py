"""Graders for lesson 3.8 — checkpoints, resuming, and the loop in practice.

The central claim: 6 epochs straight equal 3 epochs, an interruption, and a resume from the
checkpoint for 3 more (losses, parameters, learning rates, random state, optimizer state). The
network has dropout, so the random state matters; loaders are unshuffled. The straight run is
also compared with the reference's fit, run here on the same network, data and seed.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from loopgrader.checks import GradingFailure, as_float, assert_close, unpack
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

LAYERS: dict[str, Callable[..., nn.Module]] = {"relu": nn.ReLU, "dropout": nn.Dropout,
                                               "tanh": nn.Tanh}
SPEC = [["linear", 4, 16], ["relu"], ["dropout", 0.2], ["linear", 16, 1]]
EPOCHS, STOP_AFTER, LR, MAX_NORM = 6, 3, 0.02, 0.05
BATCHES = [8, 4]  # training and validation batch sizes (10 validation samples: 4 + 4 + 2)
TRAIN_BATCHES = 3  # 24 training samples in batches of 8


def build(spec: list[list[Any]], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                           else LAYERS[str(item[0])](*item[1:]) for item in spec])


def state_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def make_data(seed: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X, Xv = torch.randn(24, 4, generator=g), torch.randn(10, 4, generator=g)
    w = torch.randn(4, 1, generator=g) * 2
    return {"X": X, "y": X @ w + 0.3 * torch.randn(24, 1, generator=g),
            "Xv": Xv, "yv": Xv @ w + 0.3 * torch.randn(10, 1, generator=g)}


def as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradingFailure(f"{what} did not complete")
    return result


def runs(student: Any, seed: int = 0) -> dict[str, Any]:
    result = as_dict(student.probe("fit_runs", SPEC, state_of(build(SPEC, seed)),
                                   state_of(build(SPEC, seed + 50)), make_data(seed), BATCHES,
                                   EPOCHS, STOP_AFTER, LR, MAX_NORM), "fit")
    return result


def history_of(run: Mapping[str, Any], what: str, length: int = EPOCHS) -> list[float]:
    history = run["history"]
    if not isinstance(history, list):
        raise GradingFailure(f"{what} must return the list of validation losses, got "
                             f"{type(history).__name__}")
    if len(history) != length:
        raise GradingFailure(f"{what} returned {len(history)} validation losses; expected "
                             f"{length} (one per epoch)",
                             hint="with resume=True, start from the saved history and append "
                                  "the new epochs' losses" if "resume" in what else None)
    return [as_float(v, f"{what}[{i}]") for i, v in enumerate(history)]


def steps_of(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in run["log"].get("events", []) if e.get("kind") == "step"]


def epoch_lrs(run: Mapping[str, Any]) -> list[float]:
    """The learning rate of each epoch's first optimizer step."""
    steps = steps_of(run)
    return [float(steps[i]["lr"][0]) for i in range(0, len(steps), TRAIN_BATCHES)]


OPTIMIZER_HINT = ("the optimizer's state (Adam's step counts and moments, and the learning "
                  "rate in its param_groups) did not come back: save and load "
                  "optimizer.state_dict()")


def resume_diagnosis(result: Mapping[str, Any]) -> str:
    """Which part of the state did not come back, judged from what the runs recorded."""
    straight, first, resumed = result["straight"], result["first"], result["resumed"]
    if not first["interrupted"]:
        return ("the interrupted run never asked the training loader for a 4th epoch: "
                "iterate over train_loader once per epoch")
    passes = len(resumed["passes"])
    if passes != EPOCHS - STOP_AFTER:
        which = ("it started over from epoch 0" if passes == EPOCHS else
                 "it repeated the saved epoch: continue with epoch + 1"
                 if passes == EPOCHS - STOP_AFTER + 1 else f"it trained {passes} epochs")
        return (f"after resuming, fit should train the {EPOCHS - STOP_AFTER} remaining "
                f"epochs; {which}")
    history = resumed["history"]
    if isinstance(history, list) and len(history) == EPOCHS - STOP_AFTER:
        return ("the returned history holds only the new epochs' losses: continue from the "
                "saved history (load_checkpoint returns it) and append to it")
    if resumed["adam_steps"] != straight["adam_steps"]:
        return OPTIMIZER_HINT
    if epoch_lrs(resumed) != epoch_lrs(straight)[STOP_AFTER:]:
        return ("the resumed epochs used other learning rates than the straight run's: load "
                "the scheduler's state_dict too (and create the scheduler before loading)")
    if resumed["passes"] != straight["passes"][STOP_AFTER:]:
        return ("the random state (dropout masks) differs after resuming: save "
                "torch.get_rng_state() and restore it with torch.set_rng_state()")
    return ("save and restore the model, optimizer and scheduler state dicts, the epoch and "
            "the random state")


@pytest.mark.points(2)
def test_resume_reproduces_losses(student: Any) -> None:
    """6 epochs straight give the same validation losses as 3 + interruption + resume + 3"""
    result = runs(student, 1)
    straight = history_of(result["straight"], "fit(epochs=6)")
    try:
        resumed = history_of(result["resumed"], "fit(epochs=6, resume=True)")
        assert_close(torch.tensor(resumed, dtype=torch.float64),
                     torch.tensor(straight, dtype=torch.float64),
                     "validation losses of the resumed run (vs the straight run)",
                     rtol=1e-6, atol=1e-8)
    except GradingFailure as failure:
        raise GradingFailure(failure.message, hint=resume_diagnosis(result)) from None


@pytest.mark.points(2)
def test_resume_reproduces_parameters(student: Any) -> None:
    """6 epochs straight end with the same parameters as 3 + interruption + resume + 3"""
    result = runs(student, 2)
    straight, resumed = result["straight"]["state"], result["resumed"]["state"]
    for name, value in straight.items():
        try:
            assert_close(resumed.get(name), value, f"{name} after the resumed run (vs the "
                         "straight run)", rtol=1e-6, atol=1e-8)
        except GradingFailure as failure:
            raise GradingFailure(failure.message, hint=resume_diagnosis(result)) from None


@pytest.mark.points(1)
def test_resume_restores_schedule_and_random_state(student: Any) -> None:
    """after resuming, each epoch has the straight run's learning rate and random state"""
    result = runs(student, 3)
    straight, resumed = result["straight"], result["resumed"]
    if len(resumed["passes"]) != EPOCHS - STOP_AFTER:
        raise GradingFailure(f"fit(resume=True) trained {len(resumed['passes'])} epochs after "
                             f"a checkpoint of epoch {STOP_AFTER}; expected "
                             f"{EPOCHS - STOP_AFTER}", hint=resume_diagnosis(result))
    got, expected = epoch_lrs(resumed), epoch_lrs(straight)[STOP_AFTER:]
    if len(got) != len(expected) or any(abs(a - b) > 1e-12 for a, b in
                                         zip(got, expected, strict=False)):
        raise GradingFailure(f"learning rates of the resumed epochs: expected {expected} (as "
                             f"in the straight run), got {got}",
                             hint=OPTIMIZER_HINT
                             if resumed["adam_steps"] != straight["adam_steps"] else
                             "restore the scheduler with scheduler.load_state_dict")
    if resumed["passes"] != straight["passes"][STOP_AFTER:]:
        raise GradingFailure("the random state at the start of the resumed epochs differs from "
                             "the straight run's, so dropout draws other masks",
                             hint="save torch.get_rng_state() in the checkpoint and restore it "
                                  "with torch.set_rng_state() when loading")


@pytest.mark.points(2)
def test_fit_matches_reference(student: Any, reference: Any) -> None:
    """fit's losses and parameters match AdamW + cosine schedule + clipping (the reference)"""
    data = make_data(4)
    result = runs(student, 4)
    got = history_of(result["straight"], "fit(epochs=6)")
    model = build(SPEC, 4)
    torch.manual_seed(11)
    with tempfile.TemporaryDirectory() as folder:
        expected = reference.fit(
            model, DataLoader(TensorDataset(data["X"], data["y"]), batch_size=BATCHES[0]),
            DataLoader(TensorDataset(data["Xv"], data["yv"]), batch_size=BATCHES[1]), EPOCHS,
            LR, str(Path(folder) / "reference.pt"), max_grad_norm=MAX_NORM)
    hint = ("AdamW(lr, weight_decay=0.01), CosineAnnealingLR(T_max=epochs) stepped once per "
            "epoch, clip_grad_norm_(model.parameters(), max_grad_norm) before every step, "
            "MSELoss, validation loss weighted by batch size")
    assert_close(torch.tensor(got, dtype=torch.float64),
                 torch.tensor(expected, dtype=torch.float64), "fit's validation losses",
                 rtol=1e-5, atol=1e-7, hint=hint)
    for name, value in state_of(model).items():
        assert_close(result["straight"]["state"].get(name), value, f"{name} after fit",
                     rtol=1e-5, atol=1e-7, hint=hint)


@pytest.mark.points(1)
def test_fit_loop_order(student: Any) -> None:
    """fit clears gradients, runs backward, then steps, once per batch"""
    result = runs(student, 5)
    assert_loop_order(result["straight"]["log"], f"fit(epochs={EPOCHS})",
                      expected_steps=EPOCHS * TRAIN_BATCHES)


@pytest.mark.points(2)
def test_fit_clips_gradients_before_each_step(student: Any) -> None:
    """fit clips the gradients (one global norm) between backward and every optimizer step"""
    result = runs(student, 6)
    steps = steps_of(result["straight"])
    if not steps:
        raise GradingFailure("fit never called optimizer.step()")
    for index, event in enumerate(steps):
        ratios = []
        for key, after in event.get("after_backward", {}).items():
            at_step = event.get("grads", {}).get(key, {}).get("norm", 0.0)
            if after > 0:
                ratios.append(at_step / after)
        if not ratios:
            continue
        if max(ratios) > 1 - 1e-6:
            raise GradingFailure(
                f"step {index + 1}: the gradients reached optimizer.step() as backward() left "
                f"them, although their norm was far above max_grad_norm={MAX_NORM}",
                hint="call torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) "
                     "after loss.backward() and before optimizer.step()")
        if max(ratios) - min(ratios) > 1e-3 * max(ratios):
            raise GradingFailure(
                f"step {index + 1}: the parameters' gradients were scaled by different factors "
                f"({min(ratios):.3g} to {max(ratios):.3g})",
                hint="clip all parameters together (one global norm): "
                     "clip_grad_norm_(model.parameters(), max_grad_norm), not one call per "
                     "parameter")


@pytest.mark.points(1)
def test_fit_steps_scheduler_once_per_epoch(student: Any) -> None:
    """fit steps the cosine schedule once per epoch (T_max = epochs)"""
    result = runs(student, 7)
    straight = result["straight"]
    summary = assert_loop_order(straight["log"], f"fit(epochs={EPOCHS})")
    if summary.scheduler_steps != EPOCHS:
        raise GradingFailure(f"fit(epochs={EPOCHS}): the scheduler stepped "
                             f"{summary.scheduler_steps} times; expected once per epoch "
                             f"({EPOCHS})", hint="call scheduler.step() after the epoch's "
                                                 "batches, not inside the batch loop")
    expected = [LR * (1 + math.cos(math.pi * e / EPOCHS)) / 2 for e in range(EPOCHS)]
    got = epoch_lrs(straight)
    if len(got) != EPOCHS or any(abs(a - b) > 1e-9 for a, b in zip(got, expected,
                                                                     strict=True)):
        raise GradingFailure(f"learning rate of each epoch: expected "
                             f"{[round(v, 6) for v in expected]}, got "
                             f"{[round(v, 6) for v in got]}",
                             hint="CosineAnnealingLR(optimizer, T_max=epochs)")


@pytest.mark.points(1)
def test_fit_validates_in_eval_mode_without_graph(student: Any) -> None:
    """fit trains in train mode and validates in eval mode under torch.no_grad()"""
    result = runs(student, 8)
    forwards = result["straight"]["forwards"]
    val = [(training, grad) for size, training, grad in forwards if size == BATCHES[1]]
    trained = [(training, grad) for size, training, grad in forwards if size == BATCHES[0]]
    if not val:
        raise GradingFailure("fit never ran the model on the validation data")
    if any(training for training, _ in val):
        raise GradingFailure("validation ran in train mode (dropout was active)",
                             hint="call model.eval() before validating")
    if any(grad for _, grad in val):
        raise GradingFailure("validation built autograd graphs",
                             hint="validate under torch.no_grad()")
    if not all(training and grad for training, grad in trained):
        raise GradingFailure("some training batches ran in eval mode (after a validation)",
                             hint="call model.train() at the start of every epoch")


# --- checkpoint files --------------------------------------------------------------------------

def _close_tree(got: Any, expected: Any, where: str) -> str | None:
    """The first place where two nested plain-data values differ, or None."""
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor) or got.shape != expected.shape or not torch.allclose(
                got.to(torch.float64), expected.to(torch.float64), rtol=1e-6, atol=1e-9):
            return where
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return where
        for key, value in expected.items():
            if key not in got:
                return f"{where}[{key!r}] (missing)"
            found = _close_tree(got[key], value, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            found = _close_tree(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return None if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12) else where
    return None if got == expected else where


CHECKPOINT_HINTS = {
    "model": "model.state_dict()", "optimizer": "optimizer.state_dict()",
    "scheduler": "scheduler.state_dict()", "rng_state": "torch.get_rng_state()",
}


@pytest.mark.points(2)
def test_checkpoint_file_contents(student: Any) -> None:
    """save_checkpoint writes model, optimizer, scheduler, epoch, history and RNG state"""
    data = make_data(9)
    result = as_dict(student.probe("checkpoint_contents", SPEC, state_of(build(SPEC, 9)),
                                   data), "save_checkpoint")
    if result["error"]:
        raise GradingFailure(f"the checkpoint cannot be read with torch.load(path, "
                             f"weights_only=True): {result['error']}",
                             hint="save state dicts, numbers, lists and tensors only, not the "
                                  "model or optimizer objects themselves")
    loaded = result["loaded"]
    if loaded is None:
        raise GradingFailure(f"the checkpoint must hold a dict, got {result['loaded_type']}")
    expected = {**result["expected"], "epoch": 4, "history": [0.5, 0.25]}
    for key, value in expected.items():
        if key not in loaded:
            raise GradingFailure(f"the checkpoint has no {key!r} entry (it has "
                                 f"{sorted(loaded)})",
                                 hint=f"save {CHECKPOINT_HINTS.get(key, key)} under {key!r}")
        where = _close_tree(loaded[key], value, f"checkpoint[{key!r}]")
        if where:
            raise GradingFailure(f"{where} differs from what was there at save time",
                                 hint=f"save {CHECKPOINT_HINTS.get(key, key)} as it is when "
                                      "save_checkpoint is called")


@pytest.mark.points(2)
def test_load_checkpoint_restores_everything(student: Any) -> None:
    """load_checkpoint restores model, optimizer, scheduler and RNG state; returns epoch, history"""
    data = make_data(10)
    result = as_dict(student.probe("restored", SPEC, state_of(build(SPEC, 10)),
                                   state_of(build(SPEC, 60)), data), "load_checkpoint")
    returned = result["returned"]
    returned = unpack(returned, ("epoch", "history"), what="load_checkpoint")
    if returned[0] != 7 or list(returned[1]) != [0.75, 0.5, 0.25]:
        raise GradingFailure(f"load_checkpoint returned {returned!r:.80}; expected "
                             "(7, [0.75, 0.5, 0.25]) as saved")
    for key in ("model", "optimizer", "scheduler", "rng_state"):
        where = _close_tree(result["got"][key], result["expected"][key], key)
        if where:
            raise GradingFailure(f"after load_checkpoint, {where} is not what the checkpoint "
                                 "holds",
                                 hint=f"restore {CHECKPOINT_HINTS[key]} from the checkpoint"
                                 + (" with torch.set_rng_state" if key == "rng_state" else
                                    " with load_state_dict"))


@pytest.mark.points(1)
def test_load_checkpoint_uses_weights_only(student: Any) -> None:
    """load_checkpoint reads the file with torch.load(..., weights_only=True)"""
    calls = student.probe("load_calls", SPEC, state_of(build(SPEC, 11)), make_data(11))
    if not isinstance(calls, list) or not calls:
        raise GradingFailure("load_checkpoint never called torch.load")
    unsafe = [c for c in calls if not isinstance(c, dict) or c.get("weights_only") is not True]
    if unsafe:
        raise GradingFailure(f"torch.load was called without weights_only=True "
                             f"(keyword arguments: {unsafe[0]})",
                             hint="torch.load(path, weights_only=True): it loads tensors and "
                                  "plain data only and refuses to run code hidden in a file "
                                  "(older torch versions default to False)")


@pytest.mark.points(2)
def test_interrupted_save_keeps_previous_checkpoint(student: Any) -> None:
    """a save that fails halfway leaves the previous checkpoint intact and loadable"""
    result = as_dict(student.probe("interrupted_save", SPEC, state_of(build(SPEC, 12)),
                                   make_data(12)), "save_checkpoint")
    if result["error"] or result["epoch"] != 1:
        found = (f"it cannot be loaded any more ({result['error']})" if result["error"]
                 else f"it now holds epoch {result['epoch']}")
        raise GradingFailure(f"after a save of epoch 2 failed halfway through, the checkpoint "
                             f"should still be the epoch-1 one; {found}",
                             hint="write to a temporary file in the same folder, then "
                                  "os.replace(temporary, path): the rename is atomic")


@pytest.mark.points(1)
def test_fit_speed(student: Any, reference_worker: Any, device: torch.device,
                   record: dict[str, Any]) -> None:
    """fit (with its checkpoints) runs about as fast as the reference on the local device"""
    spec = [["linear", 32, 128], ["relu"], ["dropout", 0.1], ["linear", 128, 1]]
    g = torch.Generator().manual_seed(13)
    data = {"X": torch.randn(1280, 32, generator=g), "y": torch.randn(1280, 1, generator=g),
            "Xv": torch.randn(128, 32, generator=g), "yv": torch.randn(128, 1, generator=g)}
    verdict = time_against_reference(student, reference_worker, "fit_for_timing", spec,
                                     state_of(build(spec, 14)), data, [64, 128], 3,
                                     str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, "fit", record, key="fit")
    assert_timed_result(verdict, "after 3 epochs", record=record, key="fit")
