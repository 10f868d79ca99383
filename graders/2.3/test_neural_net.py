"""Graders for lesson 2.3, part 1 — the TwoLayerNet class: parameters, forward pass, loss, the
gradients by hand, and the in-place update.

Shapes are chosen so that slips cannot hide: N = 7 samples, D = 4 inputs, H = 5 hidden units,
O = 3 outputs (every dimension different, so a transpose changes the shape, and O > 2 so that a
loss divided by N only is off by a factor 3, not 2). Gradients are compared in float64 with
autograd and with central differences, and the student's code runs where autograd refuses to.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from twolayer_problems import (
    NAMES,
    Params,
    as_params,
    flat,
    forward,
    make_problem,
    mse,
    random_params,
    true_grads,
)

from loopgrader.checks import (
    GradingFailure,
    assert_close,
    assert_gradient_close,
    central_difference,
    require_tensor,
    unpack,
)
from loopgrader.checks.failures import StudentError
from loopgrader.checks.source import assert_no_forbidden
from loopgrader.probes.guards import NO_AUTOGRAD_MESSAGE

try:  # instructor grading names the student's exact bug; the students' copy checks without it
    from twolayer_math import bugs_for
except ImportError:
    def bugs_for(name: str, params: Params, X: torch.Tensor, y: torch.Tensor
                 ) -> dict[str, torch.Tensor]:
        return {}

N, D, H, OUT = 7, 4, 5, 3


def shapes(d: int = D, h: int = H, o: int = OUT) -> dict[str, tuple[int, ...]]:
    return {"W1": (d, h), "b1": (h,), "W2": (h, o), "b2": (o,)}


def loss_and_grads(student: Any, params: Params, X: torch.Tensor,
                   y: torch.Tensor) -> tuple[Any, Params]:
    """The student's (loss, grads), with the pair and the dict checked."""
    result = student.probe("net_loss_and_grads", *flat(params), X, y)
    loss, grads = unpack(result, ("loss", "grads"), what="loss_and_grads")
    return loss, as_params(grads, "the grads returned by loss_and_grads")


def check_gradient(student: Any, name: str, seed: int) -> None:
    params, X, y = make_problem(seed, N, D, H, OUT)
    _, grads = loss_and_grads(student, params, X, y)
    assert_gradient_close(grads[name], true_grads(params, X, y)[name],
                          f"grads['{name}'] from loss_and_grads (N={N}, D={D}, H={H}, O={OUT})",
                          batch_size=N, known_bugs=bugs_for(name, params, X, y))


@pytest.mark.points(1)
def test_init_creates_the_four_parameters(student: Any) -> None:
    """TwoLayerNet(D, H, O) stores W1 [D, H], b1 [H], W2 [H, O], b2 [O] (float32) in
    self.params"""
    got = as_params(student.probe("new_net", D, H, OUT, 0),
                    f"TwoLayerNet({D}, {H}, {OUT}).params")
    for name, shape in shapes().items():
        require_tensor(got[name], f"TwoLayerNet({D}, {H}, {OUT}).params['{name}']", shape=shape,
                       dtype=torch.float32)


@pytest.mark.points(1)
def test_init_is_seeded_and_breaks_symmetry(student: Any) -> None:
    """TwoLayerNet draws its weights from the seed: same seed, same net; another seed, another
    net; hidden units start different"""
    first = as_params(student.probe("new_net", D, H, OUT, 3), "TwoLayerNet(..., seed=3).params")
    again = as_params(student.probe("new_net", D, H, OUT, 3), "TwoLayerNet(..., seed=3).params")
    other = as_params(student.probe("new_net", D, H, OUT, 4), "TwoLayerNet(..., seed=4).params")
    for name in NAMES:
        expected = require_tensor(first[name], f"params['{name}']")
        assert_close(again[name], expected, f"params['{name}'] of a second net with the same seed",
                     rtol=0, atol=0, hint="draw from torch.Generator().manual_seed(seed), so "
                                          "the same seed gives the same parameters")
    w1 = require_tensor(first["W1"], "params['W1']", shape=(D, H))
    b1 = require_tensor(first["b1"], "params['b1']", shape=(H,))
    w2 = require_tensor(first["W2"], "params['W2']", shape=(H, OUT))
    units = torch.cat([w1.T, b1.unsqueeze(1), w2], dim=1)  # one row per hidden unit
    if torch.unique(units, dim=0).shape[0] < H:
        raise GradingFailure("some hidden units start with identical weights (e.g. all zeros): "
                             "they get identical gradients and never become different, so the "
                             "symmetry is never broken",
                             hint="draw the weights at random (e.g. randn(D, H) / sqrt(D))")
    if torch.equal(w1, require_tensor(other["W1"], "params['W1'] with seed=4")):
        raise GradingFailure("TwoLayerNet(..., seed=3) and TwoLayerNet(..., seed=4) have the same "
                             "W1: the seed is ignored",
                             hint="create torch.Generator().manual_seed(seed) and pass it to "
                                  "torch.randn(..., generator=g)")


@pytest.mark.points(1)
def test_forward_matches_the_formula(student: Any) -> None:
    """forward(X) returns tanh(X @ W1 + b1) @ W2 + b2, shape [N, O] (float64 kept)"""
    params, X, _ = make_problem(10, N, D, H, OUT)
    got = student.probe("net_forward", *flat(params), X)
    assert_close(got, forward(params, X), f"forward(X) with X [{N}, {D}]", rtol=1e-10, atol=1e-12,
                 hint="tanh on the hidden layer only; the output layer is linear")


@pytest.mark.points(2)
def test_loss_is_a_float_equal_to_the_mse(student: Any) -> None:
    """loss_and_grads returns the loss as a Python float: the mean of (out - y)² over all N·O
    entries"""
    params, X, y = make_problem(11, N, D, H, OUT)
    loss, _ = loss_and_grads(student, params, X, y)
    if isinstance(loss, torch.Tensor):
        raise GradingFailure(f"the loss returned by loss_and_grads is a tensor of shape "
                             f"{list(loss.shape)}, the contract asks for a Python float",
                             hint="return float(loss) (or loss.item())")
    if isinstance(loss, bool) or not isinstance(loss, (float, int)):
        raise GradingFailure(f"the loss returned by loss_and_grads must be a Python float, got "
                             f"{type(loss).__name__}")
    expected = mse(params, X, y)
    sq = (forward(params, X) - y) ** 2
    variants = {float(sq.sum(1).mean()): "you divided by the batch size N only: the MSE is the "
                                         "mean over all N·O entries (out_features = 3 here)",
                float(sq.sum()): "you summed the squared errors instead of averaging them",
                float(sq.mean().sqrt()): "that is the root of the MSE (RMSE): do not take sqrt",
                float(sq.mean(1).sum()): "you averaged over the outputs but summed over the batch"}
    if abs(float(loss) - expected) > 1e-9 * max(1.0, abs(expected)):
        hint = next((text for value, text in variants.items()
                     if abs(float(loss) - value) <= 1e-9 * max(1.0, abs(value))), None)
        raise GradingFailure(f"loss from loss_and_grads (N={N}, O={OUT}): expected "
                             f"{expected:.8g}, got {float(loss):.8g}", hint=hint)


@pytest.mark.points(3)
@pytest.mark.hint("dL/dW1 = Xᵀ · dL/dz1 with dL/dz1 = (dL/dout · W2ᵀ) * (1 - h²)")
def test_grad_W1_matches_autograd(student: Any) -> None:
    """loss_and_grads: the gradient for W1 equals autograd's (float64, non-square shapes)"""
    check_gradient(student, "W1", 20)


@pytest.mark.points(2)
@pytest.mark.hint("dL/db1 is dL/dz1 summed over the batch (dimension 0)")
def test_grad_b1_matches_autograd(student: Any) -> None:
    """loss_and_grads: the gradient for b1 equals autograd's (float64)"""
    check_gradient(student, "b1", 21)


@pytest.mark.points(2)
@pytest.mark.hint("dL/dW2 = hᵀ · dL/dout with dL/dout = 2 (out - y) / (N·O)")
def test_grad_W2_matches_autograd(student: Any) -> None:
    """loss_and_grads: the gradient for W2 equals autograd's (float64, non-square shapes)"""
    check_gradient(student, "W2", 22)


@pytest.mark.points(2)
@pytest.mark.hint("dL/db2 is dL/dout summed over the batch (dimension 0)")
def test_grad_b2_matches_autograd(student: Any) -> None:
    """loss_and_grads: the gradient for b2 equals autograd's (float64)"""
    check_gradient(student, "b2", 23)


@pytest.mark.points(1)
@pytest.mark.parametrize("n", [1, 6], ids=["one-sample", "six-samples"])
def test_grads_match_central_differences(student: Any, n: int) -> None:
    """loss_and_grads agrees with float64 central differences of the MSE, for every parameter"""
    params, X, y = make_problem(30 + n, n, 2, 4, 3)
    _, grads = loss_and_grads(student, params, X, y)
    for name in NAMES:
        numeric = central_difference(
            lambda v, name=name: ((forward({**params, name: v}, X) - y) ** 2).mean(),
            params[name])
        assert_gradient_close(grads[name], numeric,
                              f"grads['{name}'] against central differences (batch of {n})",
                              rtol=1e-5, atol=1e-8, batch_size=n,
                              known_bugs=bugs_for(name, params, X, y))


@pytest.mark.points(2)
def test_loss_and_grads_uses_no_autograd(student: Any, student_file: Any) -> None:
    """loss_and_grads works with autograd switched off, and the file uses no backward(),
    torch.autograd or torch.func"""
    params, X, y = make_problem(40, N, D, H, OUT, dtype=torch.float32)
    try:
        loss_and_grads(student, params, X, y)
    except StudentError as error:
        if NO_AUTOGRAD_MESSAGE in error.message:
            raise GradingFailure(error.message,
                                 hint="derive each gradient with the chain rule and compute it "
                                      "with matrix products: that is this exercise") from None
        raise
    assert_no_forbidden(student_file, ["torch.autograd", "torch.func", "functorch"],
                        methods=["backward"],
                        why="this exercise asks for the gradients by hand, with the chain rule")


@pytest.mark.points(1)
def test_loss_and_grads_leaves_inputs_unchanged(student: Any) -> None:
    """loss_and_grads modifies neither X, y nor the parameters"""
    params, X, y = make_problem(41, N, D, H, OUT)
    after = student.probe("net_inputs_after_loss_and_grads", *flat(params), X, y)
    if not isinstance(after, dict):
        raise GradingFailure("could not read the inputs back after loss_and_grads")
    got = as_params(after.get("params"), "net.params after loss_and_grads")
    for name in NAMES:
        assert_close(got[name], params[name], f"params['{name}'] after loss_and_grads",
                     rtol=0, atol=0, hint="loss_and_grads only computes; step updates")
    assert_close(after.get("X"), X, "X after loss_and_grads", rtol=0, atol=0,
                 hint="compute new tensors instead of modifying the inputs in place")
    assert_close(after.get("y"), y, "y after loss_and_grads", rtol=0, atol=0,
                 hint="compute new tensors instead of modifying the inputs in place")


@pytest.mark.points(2)
def test_step_updates_in_place(student: Any) -> None:
    """step(grads, lr) moves every parameter by -lr·grad in place (the same tensor objects)"""
    params = random_params(50, D, H, OUT)
    g = torch.Generator().manual_seed(51)
    grads = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params.items()}
    lr = 0.3
    result = student.probe("net_step", *flat(params), *flat(grads), lr)
    if not isinstance(result, dict):
        raise GradingFailure("could not read the parameters back after step")
    got = as_params(result.get("params"), "net.params after step")
    for name in NAMES:
        expected = params[name] - lr * grads[name]
        tensor = require_tensor(got[name], f"params['{name}'] after step(grads, lr={lr})",
                                shape=tuple(expected.shape))
        hint = None
        if torch.allclose(tensor, params[name] + lr * grads[name]):
            hint = "the sign is flipped: gradient descent subtracts lr * grad"
        elif torch.equal(tensor, params[name]):
            hint = "the parameter did not change: update the tensor stored in self.params"
        assert_close(tensor, expected, f"params['{name}'] after step(grads, lr={lr})",
                     rtol=1e-12, atol=1e-12, hint=hint)
    replaced = [name for name, same in result.get("same_object", {}).items() if same is not True]
    if replaced:
        raise GradingFailure(f"step put new tensors in self.params for {', '.join(replaced)} "
                             "instead of updating the existing ones in place",
                             hint="write param -= lr * grad (or param.sub_(lr * grad)): "
                                  "param = param - lr * grad creates a new tensor")
    for name in NAMES:
        assert_close(result["grads"].get(name), grads[name], f"grads['{name}'] after step",
                     rtol=0, atol=0, hint="step must not modify the gradients it is given")
