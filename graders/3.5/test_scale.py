"""Graders for lesson 3.5 — device choice, gradient accumulation, data parallelism, mixed precision.

- get_device runs while the worker fakes which accelerators torch reports.
- Accumulated gradients are compared in float64 with the full-batch gradient computed here, and
  the trace shows the micro-batches really were separate forward/backward passes.
- average_gradients runs in two real processes of a gloo group on loopback; every rank must end
  with the single-process full-batch gradient.
- The mixed-precision step runs on the local device; its loss and update are compared with a
  float32 step computed here, and its speed with the reference's.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    require_tensor,
)
from loopgrader.checks.failures import StudentError
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh}
LOSSES = {"mse": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss}
SPEC = [["linear", 5, 7], ["tanh"], ["linear", 7, 3]]


def build(spec: list[list[Any]], seed: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                           else LAYERS[str(item[0])]() for item in spec]).to(dtype)


def state_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradingFailure(f"{what} did not complete")
    return result


def problem(seed: int, n: int, loss: str, dtype: torch.dtype = torch.float64) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=g, dtype=dtype)
    y = (torch.randint(0, 3, (n,), generator=g) if loss == "cross_entropy"
         else torch.randn(n, 3, generator=g, dtype=dtype))
    return {"model": build(SPEC, seed, dtype), "X": X, "y": y, "loss": loss}


def full_batch_grads(model: nn.Module, loss: str, X: Tensor, y: Tensor) -> dict[str, Tensor]:
    model.zero_grad()
    LOSSES[loss]()(model(X), y).backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()
            if p.grad is not None}


def micro_variants(model: nn.Module, loss: str, X: Tensor, y: Tensor,
                   size: int) -> dict[str, dict[str, Tensor]]:
    """Gradients a buggy accumulation would leave, by bug."""
    chunks = [(X[i:i + size], y[i:i + size]) for i in range(0, X.shape[0], size)]
    k = len(chunks)
    out: dict[str, dict[str, Tensor]] = {}
    weights = {
        "each micro-batch's loss was divided by the number of micro-batches; with a smaller "
        "last micro-batch, weight each by its share of the samples (len(slice) / len(X))":
            [1.0 / k] * k,
        "the micro-batch losses were added without weighting, so the gradient is about "
        "(number of micro-batches)× too large: weight each by len(slice) / len(X)": [1.0] * k,
        "only the last micro-batch's gradient is left: gradients were cleared between "
        "micro-batches (clear them once, before the loop)": [0.0] * (k - 1) + [
            chunks[-1][0].shape[0] / X.shape[0]],
    }
    for bug, ws in weights.items():
        model.zero_grad()
        for (xb, yb), w in zip(chunks, ws, strict=True):
            (LOSSES[loss]()(model(xb), yb) * w).backward()
        out[bug] = {name: p.grad.detach().clone() for name, p in model.named_parameters()
                    if p.grad is not None}
    return out


# --- get_device --------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (False, True, "mps"),
                                               (False, False, "cpu")],
                         ids=["cuda-first", "then-mps", "then-cpu"])
def test_get_device_fallback(student: Any, cuda: bool, mps: bool, expected: str) -> None:
    """get_device picks cuda, else mps, else cpu (availability faked), as a torch.device"""
    result = as_dict(student.probe("device_choice", cuda, mps), "get_device")
    setting = f"with cuda {'available' if cuda else 'unavailable'} and mps " \
              f"{'available' if mps else 'unavailable'}"
    if result["kind"] != "device":
        raise GradingFailure(f"get_device() {setting}: expected a torch.device, got "
                             f"{result['kind']} ({result['type']!r})",
                             hint=f"return torch.device({expected!r}), not a string")
    if result["type"] != expected:
        hint = "check torch.cuda.is_available() first, then torch.backends.mps.is_available()"
        if expected == "cuda" and result["type"] == "mps":
            hint = "cuda goes first: check it before mps"
        raise GradingFailure(f"get_device() {setting}: expected {expected}, got "
                             f"{result['type']}", hint=hint)


# --- accumulate_gradients ----------------------------------------------------------------------

def run_accumulate(student: Any, prob: dict[str, Any], size: int,
                   stale: bool = False) -> dict[str, Any]:
    return as_dict(student.probe("accumulate_run", SPEC, state_of(prob["model"]), prob["loss"],
                                 prob["X"], prob["y"], size, stale), "accumulate_gradients")


def check_accumulated(result: dict[str, Any], prob: dict[str, Any], size: int,
                      what: str) -> None:
    model, X, y = prob["model"], prob["X"], prob["y"]
    expected = full_batch_grads(model, prob["loss"], X, y)
    variants = micro_variants(model, prob["loss"], X, y, size)
    grads = result["grads"]
    for name, value in expected.items():
        got = grads.get(name)
        if got is None:
            raise GradingFailure(f"{what}: {name}.grad is None after accumulate_gradients",
                                 hint="call backward() on each micro-batch's loss")
        assert_gradient_close(got, value, f"{what}: {name}.grad", rtol=1e-7, atol=1e-10,
                              known_bugs={bug: grads_[name] for bug, grads_ in variants.items()})


@pytest.mark.points(2)
def test_accumulate_equals_full_batch_gradient(student: Any) -> None:
    """accumulate_gradients leaves the full-batch gradient (12 samples, micro-batches of 4)"""
    prob = problem(0, 12, "mse")
    check_accumulated(run_accumulate(student, prob, 4), prob, 4,
                      "MSE, 12 samples in micro-batches of 4")


@pytest.mark.points(2)
def test_accumulate_uneven_last_micro_batch(student: Any) -> None:
    """accumulate_gradients weights a smaller last micro-batch by its share (10 = 4 + 4 + 2)"""
    prob = problem(1, 10, "cross_entropy")
    check_accumulated(run_accumulate(student, prob, 4), prob, 4,
                      "cross-entropy, 10 samples in micro-batches of 4")


@pytest.mark.points(1)
def test_accumulate_clears_existing_gradients(student: Any) -> None:
    """accumulate_gradients clears gradients the parameters already hold before accumulating"""
    prob = problem(2, 9, "mse")
    result = run_accumulate(student, prob, 3, stale=True)
    expected = full_batch_grads(prob["model"], "mse", prob["X"], prob["y"])
    for name, value in expected.items():
        got = require_tensor(result["grads"].get(name), f"{name}.grad")
        if torch.allclose(got, value + 0.5, rtol=1e-6, atol=1e-9):
            raise GradingFailure(f"{name}.grad: the gradients held before the call (0.5 "
                                 "everywhere) were added to the new ones",
                                 hint="clear the gradients first (model.zero_grad() or "
                                      "p.grad = None), once, before the micro-batch loop")
        assert_close(got, value, f"{name}.grad after accumulate_gradients with stale gradients",
                     rtol=1e-7, atol=1e-10)


@pytest.mark.points(1)
def test_accumulate_runs_micro_batches(student: Any) -> None:
    """accumulate_gradients runs one forward and backward per micro-batch and never steps"""
    prob = problem(3, 10, "mse")
    result = run_accumulate(student, prob, 3)
    sizes = result["sizes"]
    expected_count = math.ceil(10 / 3)
    if (len(sizes) != expected_count or sum(sizes) != 10 or max(sizes, default=0) > 3):
        raise GradingFailure(f"accumulate_gradients(micro_batch_size=3) on 10 samples: the "
                             f"model saw batches of sizes {sizes}; expected {expected_count} "
                             "micro-batches of at most 3 samples covering all 10",
                             hint="slice X and y into consecutive pieces of micro_batch_size "
                                  "rows and run the model on each piece")
    backwards = sum(1 for e in result["log"].get("events", []) if e.get("kind") == "backward")
    if backwards != expected_count:
        raise GradingFailure(f"accumulate_gradients: {backwards} backward pass(es) for "
                             f"{expected_count} micro-batches",
                             hint="call backward() once per micro-batch, so only one "
                                  "micro-batch's graph is in memory at a time")
    for name, value in state_of(prob["model"]).items():
        assert_close(result["state_after"][name], value, f"{name} after accumulate_gradients",
                     rtol=0.0, atol=0.0,
                     hint="accumulate_gradients only fills .grad; the caller steps")


# --- average_gradients -------------------------------------------------------------------------

@pytest.mark.points(3)
def test_average_gradients_in_two_processes(student: Any) -> None:
    """average_gradients in 2 gloo processes leaves each the single-process full-batch gradient"""
    prob = problem(4, 16, "mse")
    result = as_dict(student.probe("ddp_gradients", SPEC, state_of(prob["model"]), "mse",
                                   prob["X"], prob["y"]), "the data-parallel run")
    if result.get("unavailable"):
        pytest.skip("torch.distributed is not available in this torch build")
    expected = full_batch_grads(prob["model"], "mse", prob["X"], prob["y"])
    for report in result["reports"]:
        rank = report.get("rank")
        if report.get("timeout"):
            raise GradingFailure(f"rank {rank} did not finish within the time limit",
                                 hint="every process must call dist.all_reduce on the same "
                                      "gradients in the same order, or the others wait forever")
        if "setup_error" in report:
            raise GradingFailure(f"the data-parallel run could not be set up on rank {rank}: "
                                 f"{report['setup_error']}")
        if "error" in report:
            raise StudentError(f"average_gradients raised on rank {rank}: {report['error']}",
                               type_names=tuple(str(t) for t in report.get("mro", ())))
        shard = report["shard_grads"]
        for name, value in expected.items():
            got = report["grads"].get(name)
            if got is None:
                raise GradingFailure(f"rank {rank}: {name}.grad is None after average_gradients")
            variants = {
                "the gradients were summed over the processes but not divided by the world "
                "size (dist.get_world_size())": 2 * value,
                "the gradients are still this process's own: they were not all-reduced "
                "(all_reduce the .grad tensors in place, not copies or the parameters)":
                    shard[name],
            }
            assert_gradient_close(got, value, f"rank {rank}: {name}.grad after "
                                  "average_gradients", rtol=1e-6, atol=1e-9,
                                  known_bugs=variants)


# --- mixed precision ---------------------------------------------------------------------------

AMP_SPEC = [["linear", 16, 32], ["relu"], ["linear", 32, 4]]
AMP_LR = 0.1


def amp_problem(seed: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    return {"model": build(AMP_SPEC, seed, torch.float32),
            "x": torch.randn(64, 16, generator=g), "y": torch.randint(0, 4, (64,), generator=g)}


def run_amp(student: Any, prob: dict[str, Any], device: torch.device,
            with_scaler: bool = False) -> dict[str, Any]:
    return as_dict(student.probe("amp_step", AMP_SPEC, state_of(prob["model"]), prob["x"],
                                 prob["y"], str(device), AMP_LR, with_scaler), "train_step_amp")


def float32_step(prob: dict[str, Any]) -> tuple[float, dict[str, Tensor]]:
    """The loss and the parameters after one plain float32 SGD step (trusted side)."""
    model = build(AMP_SPEC, 0, torch.float32)
    model.load_state_dict(state_of(prob["model"]))
    optimizer = torch.optim.SGD(model.parameters(), lr=AMP_LR)
    loss = nn.CrossEntropyLoss()(model(prob["x"]), prob["y"])
    loss.backward()
    optimizer.step()
    return float(loss), state_of(model)


def low_precision(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16


def check_update(result: dict[str, Any], prob: dict[str, Any], what: str,
                 hint_if_scaled: str) -> None:
    _, after32 = float32_step(prob)
    before = state_of(prob["model"])
    for name, start in before.items():
        got = require_tensor(result["state_after"].get(name), f"{name} after {what}")
        if got.dtype != torch.float32:
            raise GradingFailure(f"{name} is {str(got.dtype).replace('torch.', '')} after "
                                 f"{what}; the parameters must stay float32",
                                 hint="autocast lowers the precision of operations inside it; "
                                      "do not convert the model (.half(), .to(bfloat16))")
        delta, delta32 = got - start, after32[name] - start
        error = float((delta - delta32).norm() / delta32.norm().clamp_min(1e-12))
        if error > 0.1:
            ratio = float(delta.norm() / delta32.norm().clamp_min(1e-12))
            hint = hint_if_scaled if ratio > 10 else (
                "the parameters were not updated: call optimizer.step() (or scaler.step)"
                if ratio < 1e-6 else "one step: zero_grad, autocast forward and loss, "
                                     "backward, step")
            raise GradingFailure(f"{what}: the update of {name} differs from a float32 SGD "
                                 f"step by {error:.0%} (its size is {ratio:.3g}× the float32 "
                                 "update's)", hint=hint)


@pytest.mark.points(1)
def test_amp_step_runs_under_autocast(student: Any, device: torch.device) -> None:
    """train_step_amp runs the forward pass under autocast (bfloat16 on cpu, float16 on cuda)"""
    result = run_amp(student, amp_problem(5), device)
    expected = str(low_precision(device))
    layers = result["layers"]
    if not layers:
        raise GradingFailure("train_step_amp never ran the model")
    wrong = [layer for layer in layers if layer["dtype"] != expected]
    if wrong:
        raise GradingFailure(f"train_step_amp on {device}: the Linear layers computed in "
                             f"{wrong[0]['dtype'].replace('torch.', '')}, expected "
                             f"{expected.replace('torch.', '')} under autocast",
                             hint="wrap the forward pass and the loss in torch.autocast("
                                  "device_type=device.type, dtype=autocast_dtype(device))")


@pytest.mark.points(2)
def test_amp_step_loss_close_to_float32(student: Any, device: torch.device) -> None:
    """train_step_amp returns a finite float loss close to the float32 loss"""
    prob = amp_problem(6)
    result = run_amp(student, prob, device)
    if result["loss_type"] != "float":
        raise GradingFailure(f"train_step_amp must return the loss as a Python float, got "
                             f"{result['loss_type']}", hint="return loss.item()")
    loss = as_float(result["loss"], "train_step_amp's loss")
    if not math.isfinite(loss):
        raise GradingFailure(f"train_step_amp returned a loss of {loss}")
    loss32, _ = float32_step(prob)
    if abs(loss - loss32) > 0.02 * abs(loss32) + 1e-3:
        raise GradingFailure(f"train_step_amp's loss: expected about {loss32:.4f} (the float32 "
                             f"loss, within 2 %), got {loss:.4f}",
                             hint="return the loss of this batch computed before the step, "
                                  "unscaled")


@pytest.mark.points(1)
def test_amp_step_updates_like_float32(student: Any, device: torch.device) -> None:
    """train_step_amp updates float32 parameters about as one float32 SGD step would"""
    prob = amp_problem(7)
    check_update(run_amp(student, prob, device), prob, "train_step_amp",
                 "the update is far too large: were the gradients still scaled?")


@pytest.mark.points(1)
def test_amp_step_loop_order(student: Any, device: torch.device) -> None:
    """train_step_amp clears old gradients, then one backward and one optimizer step"""
    result = run_amp(student, amp_problem(8), device)
    assert_loop_order(result["log"], "train_step_amp", expected_steps=1, strict_start=True)


@pytest.mark.points(1)
def test_amp_step_uses_given_scaler(student: Any, device: torch.device) -> None:
    """train_step_amp with a GradScaler scales the loss, steps through the scaler and updates it"""
    prob = amp_problem(9)
    result = run_amp(student, prob, device, with_scaler=True)
    calls = [c for c in result["scaler_calls"] if c != "unscale_"]
    if calls != ["scale", "step", "update"]:
        raise GradingFailure(f"train_step_amp with a scaler called {calls or 'none'} of its "
                             "methods; expected scale, step, update in that order",
                             hint="scaler.scale(loss).backward(); scaler.step(optimizer); "
                                  "scaler.update()")
    if result["error"]:
        raise GradingFailure(f"train_step_amp with a GradScaler raised {result['error']}")
    check_update(result, prob, "train_step_amp with a GradScaler",
                 "the gradients were still scaled when the optimizer stepped: step through "
                 "scaler.step(optimizer), which unscales them first")


@pytest.mark.points(1)
def test_amp_throughput(student: Any, reference_worker: Any, device: torch.device,
                        record: dict[str, Any]) -> None:
    """train_step_amp's throughput on the local device is close to the reference's"""
    spec = [["linear", 128, 256], ["relu"], ["linear", 256, 256], ["relu"], ["linear", 256, 10]]
    model = build(spec, 10, torch.float32)
    g = torch.Generator().manual_seed(11)
    x, y = torch.randn(256, 128, generator=g), torch.randint(0, 10, (256,), generator=g)
    steps = 25
    verdict = time_against_reference(student, reference_worker, "amp_throughput", spec,
                                     state_of(model), x, y, str(device), steps,
                                     device=str(device), allowed=3.0)
    _, reference_s = reference_worker.timed_probe(60.0, "amp_throughput", spec,
                                                  state_of(model), x, y, str(device), steps)
    reference_rate = steps * x.shape[0] / max(reference_s, 1e-9)
    record["throughput"] = {"reference_samples_per_s": round(reference_rate, 1),
                            "student_samples_per_s": round(reference_rate / verdict.ratio, 1),
                            "device": str(device)}
    assert_timing(verdict, "your mixed-precision training steps", record, key="amp_step")
    assert_timed_result(verdict, "after 25 steps", rtol=2e-2, atol=1e-3, record=record,
                        key="amp_step")
