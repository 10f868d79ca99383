"""Graders for lesson 3.7 — early stopping, batch normalisation and noise augmentation.

Early stopping is driven with scripted validation losses (its decisions follow from the rule in
the contract, simulated here), and its snapshot is tested the way training really uses it:
parameters and buffers changed in place after the snapshot. BatchNorm1d is compared in float64
with ``torch.nn.BatchNorm1d`` on the same inputs, in train and eval mode, outputs, gradients and
running statistics, with a large eps and an unusual momentum so neither can hide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import GradingFailure, assert_close, require_tensor
from loopgrader.checks.source import assert_no_forbidden

# --- early stopping ----------------------------------------------------------------------------

RULES: dict[str, Callable[[float, float, float], bool]] = {
    "correct": lambda loss, best, delta: loss < best - delta,
    "ties": lambda loss, best, delta: loss <= best - delta,
    "no_delta": lambda loss, best, delta: loss < best,
}
STOP_HINTS = {
    "late": "it stops one epoch late: return True as soon as the count reaches patience "
            "(count >= patience), not after it has passed it",
    "no_reset": "the count of epochs without improvement must be reset to 0 at every "
                "improvement",
    "ties": "a loss equal to the best is not an improvement: use a strict < comparison",
    "no_delta": "an improvement must beat the best by more than min_delta "
                "(val_loss < best - min_delta)",
}


def simulate_stop(losses: list[float], patience: int, min_delta: float,
                  variant: str = "correct") -> int | None:
    """Index of the first step() that returns True under the rule (or a buggy variant of it)."""
    improves = RULES.get(variant, RULES["correct"])
    best, count = math.inf, 0
    for i, loss in enumerate(losses):
        if improves(loss, best, min_delta):
            best = loss
            count = count if variant == "no_reset" else 0
        else:
            count += 1
        if (count > patience) if variant == "late" else (count >= patience):
            return i
    return None


def best_epoch(losses: list[float], patience: int, min_delta: float) -> int:
    stop = simulate_stop(losses, patience, min_delta)
    seen = losses if stop is None else losses[:stop + 1]
    best, index = math.inf, 0
    for i, loss in enumerate(seen):
        if loss < best - min_delta:
            best, index = loss, i
    return index


def _describe_stop(index: int | None, losses: list[float]) -> str:
    if index is None:
        return f"no stop during the {len(losses)} epochs"
    return f"a stop at call {index + 1} (val_loss={losses[index]})"


def check_stop(student: Any, losses: list[float], patience: int, min_delta: float,
               suspects: tuple[str, ...]) -> None:
    decisions = student.probe("early_stopping_decisions", losses, patience, min_delta)
    if not isinstance(decisions, list):
        raise GradingFailure(f"EarlyStopping.step: expected booleans, got "
                             f"{type(decisions).__name__}")
    got = next((i for i, d in enumerate(decisions) if d), None)
    expected = simulate_stop(losses, patience, min_delta)
    if got == expected:
        return
    hint = next((STOP_HINTS[v] for v in suspects
                 if simulate_stop(losses, patience, min_delta, v) == got), None)
    raise GradingFailure(
        f"EarlyStopping(patience={patience}, min_delta={min_delta}) on validation losses "
        f"{losses}: expected {_describe_stop(expected, losses)}, got {_describe_stop(got, losses)}",
        hint=hint)


@pytest.mark.points(2)
def test_early_stopping_stops_after_patience(student: Any) -> None:
    """EarlyStopping.step returns True once `patience` epochs in a row brought no improvement"""
    losses = [1.0, 0.9, 0.95, 0.92, 0.85, 0.87, 0.86, 0.88, 0.9, 0.91]
    check_stop(student, losses, patience=3, min_delta=0.0, suspects=("late", "no_reset"))


@pytest.mark.points(1)
def test_early_stopping_equal_loss_is_no_improvement(student: Any) -> None:
    """EarlyStopping: a validation loss equal to the best so far is not an improvement"""
    losses = [0.5, 0.4, 0.4, 0.4, 0.4, 0.3]
    check_stop(student, losses, patience=2, min_delta=0.0, suspects=("ties",))


@pytest.mark.points(2)
def test_early_stopping_respects_min_delta(student: Any) -> None:
    """EarlyStopping: an improvement must beat the best by more than min_delta"""
    losses = [1.0, 0.97, 0.94, 0.90, 0.91, 0.92, 0.93]
    check_stop(student, losses, patience=2, min_delta=0.05, suspects=("no_delta",))


def _states_equal(a: Any, b: Mapping[str, Tensor]) -> bool:
    if not isinstance(a, dict) or set(a) != set(b):
        return False
    return all(isinstance(a[k], Tensor) and a[k].shape == b[k].shape
               and torch.equal(a[k].to(b[k].dtype), b[k]) for k in b)


def _restore_hint(got: Any, result: Mapping[str, Any], best: int) -> str:
    states = result["states"]
    if _states_equal(got, result["before_restore"]):
        return ("restore() brought back the current weights: the snapshot holds references to "
                "the model's live tensors, which training then changed in place; store a deep "
                "copy (copy.deepcopy(model.state_dict()) or a clone of every tensor)")
    for i, state in enumerate(states):
        if i != best and _states_equal(got, state):
            which = "the latest epoch" if i == len(states) - 1 else f"epoch {i + 1}"
            return (f"restore() brought back the weights of {which}, not those of the best "
                    f"epoch ({best + 1}): take the snapshot only when the loss improves, "
                    "not every epoch")
    return ("restore() must load the snapshot of the best epoch (parameters and buffers: the "
            "whole state_dict) into the model")


@pytest.mark.points(3)
def test_early_stopping_restores_best_weights(student: Any) -> None:
    """EarlyStopping.restore brings back the best epoch's weights, even after more training"""
    losses = [0.9, 0.7, 0.75, 0.6, 0.65, 0.66, 0.7, 0.5]
    result = student.probe("early_stopping_restore", losses, 3, 0.0)
    if not isinstance(result, dict):
        raise GradingFailure("the early-stopping run did not complete")
    best = best_epoch(losses, 3, 0.0)
    expected = result["states"][best]
    for key in ("restored", "restored_again"):
        got = result[key]
        if not _states_equal(got, expected):
            when = ("after restore()" if key == "restored" else
                    "after restore(), more training and a second restore()")
            raise GradingFailure(
                f"the model's state {when}: expected the weights and buffers of epoch "
                f"{best + 1} (val_loss={losses[best]}, the best), got something else",
                hint=_restore_hint(got, result, best) if key == "restored" else
                "after restore() the model must not share memory with the snapshot: copy the "
                "values in (model.load_state_dict(snapshot)) rather than assigning tensors")


# --- batch normalisation -----------------------------------------------------------------------

C, N = 5, 8
EPS, MOMENTUM = 0.1, 0.2


def bn_inputs(seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    batches = torch.randn(3, N, C, generator=g, dtype=torch.float64) * 2.0 + 1.5
    return {
        "batches": batches,
        "x_eval": torch.randn(N + 3, C, generator=g, dtype=torch.float64) * 1.5 + 1.0,
        "weight": torch.rand(C, generator=g, dtype=torch.float64) + 0.5,
        "bias": torch.randn(C, generator=g, dtype=torch.float64),
        "upstream": torch.randn(N, C, generator=g, dtype=torch.float64),
        "eps": EPS, "momentum": MOMENTUM,
    }


def torch_bn_run(inp: Mapping[str, Any]) -> dict[str, Any]:
    """The same run as the probe, with torch.nn.BatchNorm1d (trusted side)."""
    layer = nn.BatchNorm1d(C, eps=inp["eps"], momentum=inp["momentum"]).double()
    with torch.no_grad():
        layer.weight.copy_(inp["weight"])
        layer.bias.copy_(inp["bias"])
    outputs, running, grads = [], [], {}
    for i, batch in enumerate(inp["batches"]):
        x = batch.clone().requires_grad_(i == 0)
        out = layer(x)
        outputs.append(out.detach())
        if i == 0:
            (out * inp["upstream"]).sum().backward()
            grads = {"x": x.grad, "weight": layer.weight.grad, "bias": layer.bias.grad}
        running.append({"mean": layer.running_mean.clone(), "var": layer.running_var.clone()})
    layer.eval()
    with torch.no_grad():
        eval_out = layer(inp["x_eval"])
    return {"train_outputs": outputs, "grads": grads, "running": running, "eval_output": eval_out}


def student_bn_run(student: Any, inp: Mapping[str, Any]) -> dict[str, Any]:
    result = student.probe("batchnorm_run", inp["batches"], inp["x_eval"], inp["weight"],
                           inp["bias"], inp["upstream"], inp["eps"], inp["momentum"])
    if not isinstance(result, dict):
        raise GradingFailure("the BatchNorm1d run did not complete")
    return result


def normalise(x: Tensor, mean: Tensor, var: Tensor, w: Tensor, b: Tensor,
              eps: float = EPS, eps_outside: bool = False) -> Tensor:
    scale = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    return (x - mean) / scale * w + b


def check_with_diagnosis(got: Any, expected: Tensor, what: str, variants: Mapping[str, Tensor],
                         hint: str | None = None, rtol: float = 1e-6,
                         atol: float = 1e-8) -> None:
    """assert_close, and when it fails, name the buggy variant the result matches."""
    try:
        assert_close(got, expected, what, rtol=rtol, atol=atol)
    except GradingFailure as failure:
        if isinstance(got, Tensor) and got.shape == expected.shape:
            g = got.detach().to(torch.float64)
            for bug, variant in variants.items():
                if torch.allclose(g, variant.to(torch.float64), rtol=1e-5, atol=1e-7):
                    raise GradingFailure(failure.message, hint=f"likely bug: {bug}") from None
        raise GradingFailure(failure.message, hint=failure.hint or hint) from None


@pytest.mark.points(1)
def test_batchnorm_parameters_and_buffers(student: Any) -> None:
    """BatchNorm1d has weight/bias parameters and running_mean/running_var buffers, like torch's"""
    result = student.probe("batchnorm_layout", C)
    if not isinstance(result, dict):
        raise GradingFailure("BatchNorm1d could not be built and run")
    params, buffers = result["parameters"], result["buffers"]
    if set(params) != {"weight", "bias"}:
        raise GradingFailure(f"BatchNorm1d's parameters: expected weight and bias, got "
                             f"{sorted(params) or 'none'}",
                             hint="create them with nn.Parameter; the running statistics are "
                                  "buffers, not parameters")
    for name in ("running_mean", "running_var"):
        if name not in buffers:
            raise GradingFailure(f"BatchNorm1d has no buffer named {name!r} (buffers: "
                                 f"{sorted(buffers) or 'none'})",
                                 hint=f"self.register_buffer({name!r}, ...)")
    starts = {"weight": (params, 1.0), "bias": (params, 0.0), "running_mean": (buffers, 0.0),
              "running_var": (buffers, 1.0)}
    for name, (where, value) in starts.items():
        assert_close(where[name], torch.full((C,), value), f"BatchNorm1d({C}).{name} at creation")
    grads = result["buffers_require_grad"]
    tracked = [name for name in ("running_mean", "running_var") if grads.get(name)]
    if tracked:
        raise GradingFailure(f"after a training step, {' and '.join(tracked)} require grad: the "
                             "running statistics became part of the autograd graph",
                             hint="update them under torch.no_grad() (or from detached batch "
                                  "statistics), in place")


@pytest.mark.points(2)
def test_batchnorm_train_output_matches_torch(student: Any) -> None:
    """BatchNorm1d in train mode matches nn.BatchNorm1d (batch mean, biased variance, affine)"""
    inp = bn_inputs(1)
    got = student_bn_run(student, inp)["train_outputs"]
    expected = torch_bn_run(inp)["train_outputs"]
    x, w, b = inp["batches"][0], inp["weight"], inp["bias"]
    mean, var = x.mean(0), x.var(0, unbiased=False)
    variants = {
        "you normalised with the unbiased variance (divide by N - 1); normalisation uses the "
        "biased batch variance (divide by N, unbiased=False)":
            normalise(x, mean, x.var(0, unbiased=True), w, b),
        "eps belongs inside the square root: sqrt(var + eps), not sqrt(var) + eps":
            normalise(x, mean, var, w, b, eps_outside=True),
        "the weight and bias (the affine part) are not applied": normalise(
            x, mean, var, torch.ones(C, dtype=x.dtype), torch.zeros(C, dtype=x.dtype)),
        "the statistics were taken over the features (dim 1); take them over the batch (dim 0)":
            normalise(x, x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True), w, b),
        "the eps passed to __init__ is ignored (eps=0.1 here)":
            normalise(x, mean, var, w, b, eps=1e-5),
        "train mode used the running statistics; use the batch's own mean and variance":
            normalise(x, torch.zeros(C, dtype=x.dtype), torch.ones(C, dtype=x.dtype), w, b),
    }
    if not isinstance(got, list) or not got:
        raise GradingFailure("BatchNorm1d produced no outputs")
    check_with_diagnosis(got[0], expected[0], "BatchNorm1d(train) output on the first batch",
                         variants)


@pytest.mark.points(2)
def test_batchnorm_gradients_match_torch(student: Any) -> None:
    """BatchNorm1d's gradients (input, weight, bias) equal nn.BatchNorm1d's in float64"""
    inp = bn_inputs(2)
    got = student_bn_run(student, inp)["grads"]
    expected = torch_bn_run(inp)["grads"]
    x0 = inp["batches"][0].clone().requires_grad_(True)
    mean, var = x0.mean(0).detach(), x0.var(0, unbiased=False).detach()
    out = normalise(x0, mean, var, inp["weight"], inp["bias"])
    (detached_grad,) = torch.autograd.grad((out * inp["upstream"]).sum(), x0)
    for name in ("weight", "bias", "x"):
        value = got.get(name) if isinstance(got, dict) else None
        if value is None:
            raise GradingFailure(f"BatchNorm1d: no gradient reached {name}",
                                 hint="compute the output with tensor operations from x, weight "
                                      "and bias so autograd can follow them")
        variants = {"the batch mean and variance were detached (or computed under no_grad): "
                    "the gradient must also flow through the statistics": detached_grad} \
            if name == "x" else {}
        check_with_diagnosis(value, expected[name], f"gradient of BatchNorm1d's output with "
                             f"respect to {name}", variants, rtol=1e-6, atol=1e-9)


@pytest.mark.points(2)
def test_batchnorm_running_statistics_match_torch(student: Any) -> None:
    """BatchNorm1d updates running_mean and running_var (unbiased) with momentum, like torch"""
    inp = bn_inputs(3)
    got = student_bn_run(student, inp)["running"]
    expected = torch_bn_run(inp)["running"]
    m = inp["momentum"]
    zeros, ones = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    swapped = {"mean": zeros, "var": ones}
    biased_var = ones
    for i, batch in enumerate(inp["batches"]):
        swapped = {"mean": m * swapped["mean"] + (1 - m) * batch.mean(0),
                   "var": m * swapped["var"] + (1 - m) * batch.var(0, unbiased=True)}
        biased_var = (1 - m) * biased_var + m * batch.var(0, unbiased=False)
        step = got[i] if isinstance(got, list) and i < len(got) else {}
        for stat in ("mean", "var"):
            value = step.get(stat) if isinstance(step, dict) else None
            if value is None:
                raise GradingFailure(f"BatchNorm1d has no running_{stat} tensor",
                                     hint=f"register it: self.register_buffer('running_{stat}',"
                                          " ...)")
            variants = {
                "momentum is the weight of the new batch statistic: running = (1 - momentum) "
                "* running + momentum * batch value": swapped[stat],
                f"running_{stat} never changed in train mode": zeros if stat == "mean" else ones,
            }
            if stat == "var":
                variants["the running variance must be updated with the unbiased batch "
                         "variance (divide by N - 1), although normalisation uses the biased "
                         "one"] = biased_var
            check_with_diagnosis(value, expected[i][stat],
                                 f"running_{stat} after {i + 1} training batch(es)", variants)


@pytest.mark.points(2)
def test_batchnorm_eval_uses_running_statistics(student: Any) -> None:
    """BatchNorm1d in eval mode normalises with the running statistics and leaves them unchanged"""
    inp = bn_inputs(4)
    result = student_bn_run(student, inp)
    expected = torch_bn_run(inp)
    x = inp["x_eval"]
    batch_stats = normalise(x, x.mean(0), x.var(0, unbiased=False), inp["weight"], inp["bias"])
    check_with_diagnosis(result["eval_output"], expected["eval_output"],
                         "BatchNorm1d(eval) output",
                         {"eval mode still normalises with the batch's statistics; use the "
                          "running statistics when not self.training": batch_stats})
    after = result["running_after_eval"]
    for stat in ("mean", "var"):
        if after.get(stat) is None:
            raise GradingFailure(f"BatchNorm1d has no running_{stat} tensor")
        assert_close(after[stat], expected["running"][-1][stat],
                     f"running_{stat} after a forward pass in eval mode",
                     hint="update the running statistics in train mode only")


@pytest.mark.points(1)
def test_batchnorm_computes_statistics_itself(student: Any, student_file: Any) -> None:
    """BatchNorm1d computes the statistics itself (no F.batch_norm or nn.BatchNorm1d)"""
    assert_no_forbidden(student_file, ["torch.nn.functional.batch_norm", "torch.batch_norm",
                                       "torch.native_batch_norm", "torch.nn.BatchNorm1d",
                                       "torch.nn.modules.batchnorm"],
                        why="this exercise asks you to write batch normalisation yourself "
                            "(torch.var_mean, mean and var are fine)")
    result = student.probe("batchnorm_layout", C)
    if not isinstance(result, dict):
        raise GradingFailure("BatchNorm1d could not be built and run")


# --- augmentation ------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_augment_reproducible_with_generator(student: Any) -> None:
    """augment draws its noise from the generator: same seed, same result; next call, new noise"""
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    result = student.probe("augment_reproducibility", x, 0.5, 11)
    if not isinstance(result, dict):
        raise GradingFailure("augment could not be run")
    first = require_tensor(result["first"], "augment(x, 0.5, generator)", shape=tuple(x.shape))
    hint = ("draw the noise with the generator you are given, e.g. torch.randn(x.shape, "
            "generator=generator, dtype=x.dtype), not from torch's global random state")
    try:
        assert_close(result["second"], first, "augment with a second generator seeded alike "
                     "(the global seed changed in between)", rtol=0.0, atol=0.0)
    except GradingFailure as failure:
        raise GradingFailure(failure.message + ": the result is not reproducible",
                             hint=hint) from None
    if not result["advanced"]:
        raise GradingFailure("augment did not draw anything from the generator it was given "
                             "(its state is unchanged after the call)", hint=hint)
    again = require_tensor(result["again"], "a second augment call with the same generator",
                           shape=tuple(x.shape))
    if torch.equal(again, first):
        raise GradingFailure("two successive calls with the same generator returned the same "
                             "noise", hint="do not re-seed the generator inside augment")


@pytest.mark.points(1)
def test_augment_noise_statistics(student: Any) -> None:
    """augment adds zero-mean Gaussian noise with standard deviation noise_std, keeping x's dtype"""
    x = torch.randn(4000, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    std = 0.3
    result = student.probe("augment_untouched", x, std)
    if not isinstance(result, dict):
        raise GradingFailure("augment could not be run")
    out = require_tensor(result["output"], "augment(x, 0.3, generator)", shape=tuple(x.shape),
                         dtype=x.dtype)
    noise = out - result["original"]
    mean, spread = float(noise.mean()), float(noise.std())
    tolerance = 5 * std / math.sqrt(noise.numel())
    hints = {1.0: "the noise is not scaled by noise_std",
             std ** 2: "the noise was scaled by noise_std ** 2: noise_std is the standard "
                       "deviation, not the variance",
             std / math.sqrt(12): "the noise looks uniform (torch.rand); use Gaussian noise "
                                  "(torch.randn)"}
    hint = next((h for s, h in hints.items() if abs(spread - s) < 0.03 * s), None)
    if abs(mean) > tolerance:
        raise GradingFailure(f"augment: the added noise has mean {mean:.4f}; expected 0 "
                             f"(within {tolerance:.4f} for {noise.numel()} samples)",
                             hint=hint or "the noise must be centred on zero (torch.randn)")
    if abs(spread - std) > 0.03 * std:
        raise GradingFailure(f"augment: the added noise has standard deviation {spread:.4f}; "
                             f"expected noise_std = {std}", hint=hint)


@pytest.mark.points(1)
def test_augment_leaves_input_untouched(student: Any) -> None:
    """augment returns a new tensor and leaves its input unchanged"""
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(9))
    result = student.probe("augment_untouched", x, 0.2)
    if not isinstance(result, dict):
        raise GradingFailure("augment could not be run")
    require_tensor(result["output"], "augment(x, 0.2, generator)", shape=tuple(x.shape))
    assert_close(result["input_after"], result["original"], "x after augment(x, ...)",
                 rtol=0.0, atol=0.0,
                 hint="augment modified x in place (x += noise or x.add_): return x + noise")
    if result["shares"]:
        raise GradingFailure("augment returned its input tensor (or a view of its memory) "
                             "instead of a new tensor",
                             hint="return x + noise, a new tensor; never change x in place")
