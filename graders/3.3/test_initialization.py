"""Graders for lesson 3.3 — Xavier and Kaiming initialisation by hand, activation statistics.

Random initialisers cannot be compared value for value (a correct solution may draw its numbers
in any order), so their distributions are checked instead, on large tensors drawn from a fixed
seed, with tolerances of 5 standard errors for the stated sample size: a correct initialiser
passes whatever it draws, a wrong scale or distribution fails by a wide margin. torch.nn.init
is switched off wherever the student's code runs, and forbidden in the source.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import GradingFailure, as_float, require_tensor
from loopgrader.checks.failures import StudentError
from loopgrader.checks.source import assert_no_forbidden

Z = 5.0  # tolerance in standard errors


def filled(student: Any, name: str, shape: tuple[int, int], args: list[Any], seed: int,
           dtype: str = "float32") -> dict[str, Any]:
    result = student.probe("fill", name, list(shape), args, seed, dtype)
    if not isinstance(result, dict):
        raise GradingFailure(f"{name}: the call could not be recorded")
    return result


def drawn(student: Any, name: str, shape: tuple[int, int], args: list[Any], seed: int) -> Tensor:
    """The values the initialiser produced, as float64: what it returned, or (if it returned
    no tensor) what it wrote into the tensor; returning it is checked on its own."""
    result = filled(student, name, shape, args, seed)
    what = f"{name}(torch.empty({shape[0]}, {shape[1]}){''.join(f', {a}' for a in args)})"
    returned = result.get("returned")
    if not isinstance(returned, Tensor):
        returned = result.get("values")
    values = require_tensor(returned, f"the values drawn by {what}", shape=shape)
    if not bool(torch.isfinite(values).all()):
        raise GradingFailure(f"{what}: the returned tensor holds nan or inf: not every entry "
                             "was filled", hint="fill the whole tensor in place")
    return values.to(torch.float64)


def check_stat(value: float, expected: float, se: float, what: str, *, n: int,
               hint: str | None = None) -> None:
    if abs(value - expected) > Z * se:
        raise GradingFailure(f"{what}: expected {expected:.5g} ± {Z * se:.2g} ({Z:g} standard "
                             f"errors for {n} samples), got {value:.5g}", hint=hint)


def named_scale(measured: float, candidates: dict[str, float], rel: float) -> str | None:
    for text, value in candidates.items():
        if value > 0 and abs(measured / value - 1) < rel:
            return f"likely bug: {text}"
    return None


# --- Xavier (Glorot) uniform ----------------------------------------------------------------
def xavier_candidates(fan_out: int, fan_in: int, gain: float) -> dict[str, float]:
    return {
        "the bound uses fan_in only; it is gain * sqrt(6 / (fan_in + fan_out))":
            gain * math.sqrt(6 / fan_in),
        "the bound uses fan_out only; it is gain * sqrt(6 / (fan_in + fan_out))":
            gain * math.sqrt(6 / fan_out),
        "the gain is ignored: multiply the bound by gain": math.sqrt(6 / (fan_in + fan_out)),
        "the square root is missing: bound = gain * sqrt(6 / (fan_in + fan_out))":
            gain * 6 / (fan_in + fan_out),
        "that is the standard deviation of Xavier init, sqrt(2 / (fan_in + fan_out)), used "
        "as the bound; the bound is gain * sqrt(6 / (fan_in + fan_out))":
            gain * math.sqrt(2 / (fan_in + fan_out)),
    }


def check_bound(values: Tensor, bound: float, what: str, *, near: float, candidates:
                dict[str, float]) -> None:
    """max |w| <= bound (exactly), and close to it for a tensor this large."""
    top = float(values.abs().max())
    if top > bound * (1 + 1e-6):
        std = float(values.std())
        hint = named_scale(top, candidates, 2e-3)
        if hint is None and abs(std / (bound / math.sqrt(3)) - 1) < 0.05:
            hint = ("likely bug: the values have the right spread but exceed the bound: draw "
                    "from a uniform distribution (tensor.uniform_(-bound, bound)), not a normal")
        raise GradingFailure(f"{what}: every |w| must be at most the bound {bound:.6g}, but the "
                             f"largest is {top:.6g}",
                             hint=hint or "draw from a uniform distribution on [-bound, bound], "
                                          "bound = gain * sqrt(6 / (fan_in + fan_out))")
    if top < bound * (1 - near):
        raise GradingFailure(f"{what}: with {values.numel()} draws the largest |w| should be "
                             f"within {near:.1%} of the bound {bound:.6g}, but it is only "
                             f"{top:.6g}",
                             hint=named_scale(top, candidates, 2 * near)
                             or "bound = gain * sqrt(6 / (fan_in + fan_out)), with fan_in = "
                                "shape[1] and fan_out = shape[0]")


@pytest.mark.points(2)
def test_xavier_uniform_bound(student: Any) -> None:
    """xavier_uniform_ stays within ±sqrt(6 / (fan_in + fan_out)) and reaches it ([300, 500])"""
    shape = (300, 500)
    values = drawn(student, "xavier_uniform_", shape, [], seed=0)
    bound = math.sqrt(6 / (shape[0] + shape[1]))
    check_bound(values, bound, "xavier_uniform_ on a [300, 500] weight", near=1e-3,
                candidates=xavier_candidates(*shape, 1.0))


@pytest.mark.points(2)
def test_xavier_uniform_statistics(student: Any) -> None:
    """xavier_uniform_ is uniform on [-bound, bound]: mean 0, std bound/√3, half inside bound/2"""
    shape = (200, 800)
    values = drawn(student, "xavier_uniform_", shape, [], seed=1).reshape(-1)
    n = values.numel()
    bound = math.sqrt(6 / (shape[0] + shape[1]))
    sigma = bound / math.sqrt(3)
    what = "xavier_uniform_ on a [200, 800] weight"
    check_stat(float(values.mean()), 0.0, sigma / math.sqrt(n), f"{what}: mean", n=n,
               hint="the distribution must be centred on 0: uniform on [-bound, bound], not "
                    "[0, bound] (torch.rand gives [0, 1))")
    check_stat(float(values.std()), sigma, 0.447 * sigma / math.sqrt(n),
               f"{what}: standard deviation", n=n,
               hint=named_scale(float(values.std()) * math.sqrt(3),
                                xavier_candidates(*shape, 1.0), 0.02)
               or "uniform on [-bound, bound] has std bound / sqrt(3)")
    inside = float((values.abs() < bound / 2).double().mean())
    check_stat(inside, 0.5, 0.5 / math.sqrt(n), f"{what}: share of entries with |w| < bound/2",
               n=n, hint="every value in [-bound, bound] must be equally likely (a uniform "
                         "distribution), e.g. tensor.uniform_(-bound, bound)")


@pytest.mark.points(1)
def test_xavier_uniform_gain(student: Any) -> None:
    """xavier_uniform_ multiplies the bound by gain (gain = 2.5 on a [64, 32] weight)"""
    shape, gain = (64, 32), 2.5
    values = drawn(student, "xavier_uniform_", shape, [gain], seed=2)
    bound = gain * math.sqrt(6 / (shape[0] + shape[1]))
    check_bound(values, bound, "xavier_uniform_(w, gain=2.5) on a [64, 32] weight", near=0.01,
                candidates=xavier_candidates(*shape, gain))


IN_PLACE_HINT = ("fill the tensor you were given in place, under torch.no_grad(), and return "
                 "it: tensor.normal_(0, std) / tensor.uniform_(-bound, bound) write into it")


def check_in_place(student: Any, name: str, args: list[Any]) -> None:
    result = filled(student, name, (20, 30), args, seed=3, dtype="float64")
    what = f"{name} on a float64 tensor"
    if not result.get("same_object"):
        raise GradingFailure(f"{what}: it returned a {result.get('returned_type')} that is not "
                             "the tensor passed in",
                             hint="fill the tensor in place and return that same tensor "
                                  "(tensor.uniform_(...) returns it)")
    if not result.get("same_storage"):
        raise GradingFailure(f"{what}: the tensor's memory was replaced (tensor.data = ...), "
                             "not filled in place", hint="write into the existing memory: "
                                                         "tensor.uniform_(...), tensor.copy_(...)")
    values = require_tensor(result.get("values"), f"{what}: the filled tensor", shape=(20, 30),
                            dtype=torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise GradingFailure(f"{what}: the tensor passed in was not filled in place (it still "
                             "holds its old values)", hint="fill the tensor itself, in place")


@pytest.mark.points(1)
def test_xavier_in_place_and_returned(student: Any) -> None:
    """xavier_uniform_ fills the tensor in place (same object, same memory, dtype kept) and
    returns it"""
    check_in_place(student, "xavier_uniform_", [])


# --- Kaiming (He) normal --------------------------------------------------------------------
def kaiming_candidates(fan_out: int, fan_in: int) -> dict[str, float]:
    return {
        "fan_in must be tensor.shape[1] (the weight is [fan_out, fan_in]); you used shape[0]":
            math.sqrt(2 / fan_out),
        "the square root is missing: std = sqrt(2 / fan_in), not 2 / fan_in": 2 / fan_in,
        "the factor 2 is missing: std = sqrt(2 / fan_in) (ReLU halves the variance)":
            math.sqrt(1 / fan_in),
        "this is a Xavier scale, sqrt(2 / (fan_in + fan_out)); Kaiming uses fan_in only: "
        "sqrt(2 / fan_in)": math.sqrt(2 / (fan_in + fan_out)),
        "std = sqrt(2 / fan_in) was used as the variance": 2 / math.sqrt(fan_in),
    }


@pytest.mark.points(2)
@pytest.mark.parametrize("shape", [(128, 1024), (512, 64)], ids=["wide-in", "wide-out"])
def test_kaiming_normal_std(student: Any, shape: tuple[int, int]) -> None:
    """kaiming_normal_ has mean 0 and std sqrt(2 / fan_in), fan_in = shape[1]"""
    values = drawn(student, "kaiming_normal_", shape, [], seed=4).reshape(-1)
    n = values.numel()
    sigma = math.sqrt(2 / shape[1])
    what = f"kaiming_normal_ on a [{shape[0]}, {shape[1]}] weight"
    check_stat(float(values.mean()), 0.0, sigma / math.sqrt(n), f"{what}: mean", n=n,
               hint="draw from a normal distribution centred on 0")
    std = float(values.std())
    check_stat(std, sigma, sigma / math.sqrt(2 * n), f"{what}: standard deviation", n=n,
               hint=named_scale(std, kaiming_candidates(*shape), 0.03)
               or "std = sqrt(2 / fan_in) with fan_in = tensor.shape[1]")


@pytest.mark.points(1)
def test_kaiming_normal_is_normal(student: Any) -> None:
    """kaiming_normal_ draws from a normal distribution (68.3 % within 1 std, 95.4 % within 2)"""
    values = drawn(student, "kaiming_normal_", (256, 512), [], seed=5).reshape(-1)
    n = values.numel()
    z = (values - values.mean()) / values.std()
    for k, share in ((1, math.erf(1 / math.sqrt(2))), (2, math.erf(2 / math.sqrt(2)))):
        got = float((z.abs() < k).double().mean())
        check_stat(got, share, math.sqrt(share * (1 - share) / n),
                   f"kaiming_normal_ on a [256, 512] weight: share of entries within {k} "
                   "standard deviation(s) of the mean", n=n,
                   hint="draw from a normal distribution (tensor.normal_(0, std)), not a "
                        "uniform one with the same spread")


@pytest.mark.points(1)
def test_kaiming_in_place_and_returned(student: Any) -> None:
    """kaiming_normal_ fills the tensor in place (same object, same memory, dtype kept) and
    returns it"""
    check_in_place(student, "kaiming_normal_", [])


@pytest.mark.points(1)
def test_init_fills_layer_weights(student: Any) -> None:
    """Both initialisers work on nn.Linear(256, 64).weight: a Parameter that requires grad"""
    for name in ("xavier_uniform_", "kaiming_normal_"):
        what = f"{name}(nn.Linear(256, 64).weight)"
        try:
            result = student.probe("fill_layer_weight", name, 256, 64, 6)
        except StudentError as error:
            if error.not_implemented or "leaf Variable" not in error.message:
                raise
            raise GradingFailure(f"{what}: {error.message}",
                                 hint="an in-place change of a parameter that requires grad "
                                      "must run under torch.no_grad()") from None
        if not isinstance(result, dict):
            raise GradingFailure(f"{what}: the call could not be recorded")
        if not result.get("still_parameter"):
            raise GradingFailure(f"{what}: layer.weight is no longer the same Parameter",
                                 hint="fill the tensor you were given in place, under "
                                      "torch.no_grad()")
        if not (result.get("requires_grad") and result.get("is_leaf")):
            raise GradingFailure(f"{what}: afterwards the weight no longer requires grad (or "
                                 "is no longer a leaf)", hint="fill it in place under "
                                                              "torch.no_grad()")
        values = require_tensor(result.get("values"), f"{what}: the weight", shape=(64, 256))
        before = require_tensor(result.get("before"), f"{what}: the weight before",
                                shape=(64, 256))
        if torch.equal(values, before):
            if not result.get("same_object"):
                raise GradingFailure(f"{what}: the weight was not changed: {name} returned a "
                                     "new tensor instead of filling the one it was given in "
                                     "place", hint=IN_PLACE_HINT)
            raise GradingFailure(f"{what}: the weight was not changed")


@pytest.mark.points(1)
def test_no_torch_nn_init_in_source(student: Any, student_file: Any) -> None:
    """The initialisers are written by hand: torch.nn.init does not appear in the source"""
    drawn(student, "xavier_uniform_", (4, 6), [], seed=7)
    drawn(student, "kaiming_normal_", (4, 6), [], seed=7)
    assert_no_forbidden(student_file, ["torch.nn.init"],
                        why="compute the bound or std from the shape and fill the tensor with "
                            "tensor.uniform_ / tensor.normal_")


@pytest.mark.points(1)
def test_no_torch_nn_init_at_run_time(student: Any) -> None:
    """The initialisers do not call torch.nn.init at run time"""
    for name in ("xavier_uniform_", "kaiming_normal_"):
        try:
            filled(student, name, (8, 8), [], seed=8)
        except StudentError as error:
            if error.not_implemented or "is not allowed" not in error.message:
                raise
            raise GradingFailure(f"{name} called torch.nn.init at run time:\n{error.message}",
                                 hint="compute the bound or std from the shape and fill the "
                                      "tensor with tensor.uniform_ / tensor.normal_") from None


# --- activation statistics --------------------------------------------------------------------
SPEC: list[list[Any]] = [["linear", 6, 16], ["relu"], ["linear", 16, 16], ["tanh"],
                         ["linear", 16, 8], ["sigmoid"], ["linear", 8, 8], ["relu"]]
KINDS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def build(spec: list[list[Any]]) -> nn.Sequential:
    return nn.Sequential(*[nn.Linear(item[1], item[2]) if item[0] == "linear"
                           else KINDS[item[0]]() for item in spec])


def layer_stds(model: nn.Sequential, x: Tensor) -> list[tuple[str, float]]:
    """(kind, std of the output) for every layer, in order."""
    out = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            out.append((type(layer).__name__, float(x.std())))
    return out


def student_stds(student: Any, result: Any, what: str) -> list[float]:
    if not isinstance(result, list):
        raise GradingFailure(f"{what}: expected a list of floats, got {type(result).__name__}")
    if not all(isinstance(v, float) for v in result):
        kinds = sorted({type(v).__name__ for v in result if not isinstance(v, float)})
        raise GradingFailure(f"{what}: the stds must be Python floats, got {', '.join(kinds)}",
                             hint="convert each std with .item() (or float(...))")
    return [as_float(v, what) for v in result]


def check_stds(got: list[float], layers: list[tuple[str, float]], what: str) -> None:
    expected = [std for kind, std in layers if kind in ("ReLU", "Tanh", "Sigmoid")]
    variants = {
        "these are the stds of the layers before each activation: record the output of the "
        "activation module itself":
            [layers[i - 1][1] for i, (kind, _) in enumerate(layers)
             if kind in ("ReLU", "Tanh", "Sigmoid") and i > 0],
        "only nn.ReLU was counted: nn.Tanh and nn.Sigmoid are activations too":
            [std for kind, std in layers if kind == "ReLU"],
        "every layer was recorded: keep only the activation modules (ReLU, Tanh, Sigmoid)":
            [std for _, std in layers],
    }
    if len(got) == len(expected) and all(math.isclose(a, b, rel_tol=2e-3)
                                         for a, b in zip(got, expected, strict=True)):
        return
    hint = next((f"likely bug: {text}" for text, values in variants.items()
                 if len(values) == len(got) and all(math.isclose(a, b, rel_tol=2e-3)
                                                    for a, b in zip(got, values, strict=True))),
                None)
    if len(got) != len(expected):
        raise GradingFailure(f"{what}: expected {len(expected)} stds (one per activation "
                             f"module), got {len(got)}",
                             hint=hint or "one entry per nn.ReLU / nn.Tanh / nn.Sigmoid, in "
                                          "the order they run")
    i = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True))
             if not math.isclose(a, b, rel_tol=2e-3))
    raise GradingFailure(f"{what}: activation {i}: expected std {expected[i]:.6g}, got "
                         f"{got[i]:.6g}",
                         hint=hint or "the std of each activation module's output over the "
                                      "whole batch (Tensor.std())")


@pytest.mark.points(2)
def test_activation_stds_values(student: Any) -> None:
    """activation_stds returns the std of every ReLU/Tanh/Sigmoid output, in order"""
    torch.manual_seed(9)
    model = build(SPEC)
    x = torch.randn(256, 6, generator=torch.Generator().manual_seed(10)) * 2
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    what = "activation_stds(Linear, ReLU, Linear, Tanh, Linear, Sigmoid, Linear, ReLU)"
    got = student_stds(student, student.probe("stds_of", SPEC, state, x), what)
    check_stds(got, layer_stds(model, x), what)


def deep_stack(student: Any, init: str) -> tuple[nn.Sequential, list[float], list[float]]:
    """The 20-layer stack built in the worker; the stds recomputed here, and the student's."""
    width, depth = 256, 20
    x = torch.randn(512, width, generator=torch.Generator().manual_seed(11))
    result = student.probe("deep_relu_stack", width, depth, init, x, 12)
    if not isinstance(result, dict) or not isinstance(result.get("state"), dict):
        raise GradingFailure("the 20-layer stack could not be built")
    if any(result.get("unchanged") or []):
        raise GradingFailure("20-layer stack: kaiming_normal_(layer.weight) left the layer's "
                             "weight unchanged: it did not fill the tensor it was given in place "
                             "(a new tensor returned is thrown away by the caller)",
                             hint=IN_PLACE_HINT)
    model = build([["linear", width, width], ["relu"]] * depth)
    for key, value in model.state_dict().items():
        require_tensor(result["state"].get(key), f"20-layer stack: {key}",
                       shape=tuple(value.shape))
    model.load_state_dict(result["state"])
    layers = layer_stds(model, x)
    what = f"activation_stds on the 20-layer ReLU stack ({init} init)"
    got = student_stds(student, result.get("stds"), what)
    check_stds(got, layers, what)
    true = [std for kind, std in layers if kind == "ReLU"]
    return model, true, got


@pytest.mark.points(2)
def test_deep_relu_stack_keeps_scale_with_kaiming(student: Any) -> None:
    """A 20-layer ReLU stack initialised with kaiming_normal_ keeps its activation scale"""
    model, stds, _ = deep_stack(student, "kaiming")
    for i, layer in enumerate(m for m in model if isinstance(m, nn.Linear)):
        w = layer.weight.detach().reshape(-1).double()
        sigma = math.sqrt(2 / 256)
        check_stat(float(w.std()), sigma, sigma / math.sqrt(2 * w.numel()),
                   f"20-layer stack: std of layer {i}'s weight after kaiming_normal_",
                   n=w.numel(), hint="std = sqrt(2 / fan_in)")
    ratio = stds[-1] / stds[0]
    if not 0.25 <= ratio <= 4:
        raise GradingFailure(f"20-layer ReLU stack with kaiming_normal_: the last activation's "
                             f"std is {ratio:.3g}× the first's (expected between 0.25× and 4×)",
                             hint="std = sqrt(2 / fan_in) keeps the variance of ReLU "
                                  "activations constant from layer to layer")


@pytest.mark.points(1)
def test_deep_relu_stack_collapses_with_tiny_init(student: Any) -> None:
    """With a tiny init (std 0.01) the same stack's activations collapse towards 0"""
    _, stds, got = deep_stack(student, "tiny")
    if not got[-1] < 1e-6 * got[0] or not stds[-1] < 1e-6 * stds[0]:
        raise GradingFailure(f"20-layer ReLU stack with std-0.01 weights: expected the last "
                             f"activation's std to be below 1e-6 × the first's, got "
                             f"{got[-1]:.3g} vs {got[0]:.3g}")
