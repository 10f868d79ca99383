"""Graders for lesson 2.2 — forward and backward passes of Linear -> ReLU -> Linear.

The cache is the student's own design, so every backward check runs the student's forward and
then the student's backward on its cache inside one probe, where autograd is switched off and
no input requires grad. Gradients are compared in float64 with autograd on the same inputs and
with central differences; every size differs (N != D != H != O) so transposes cannot hide, and
one input set has exact zeros in z1, where torch's ReLU has gradient 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from loopgrader.checks import (
    GradingFailure,
    assert_close,
    assert_gradient_close,
    central_difference,
    require_tensor,
)

F64 = torch.float64
N, D, H, OUT = 6, 4, 5, 3  # all different: transposes cannot hide
KEYS = ("W1", "b1", "W2", "b2", "x")
NO_MASK = ("the ReLU mask is missing: the gradient reaches z1 only where z1 > 0 "
           "(multiply dh by the mask)")
KINK = ("at z1 == 0 exactly your ReLU lets the gradient through: torch's ReLU has gradient 0 "
        "there (mask with z1 > 0, not z1 >= 0)")
BIAS_MEAN = ("you averaged over the batch: dout already holds each sample's gradient, so a "
             "bias gradient is its sum over dim 0")
PRE_RELU = "dW2 was computed from z1: the second layer sees h = relu(z1), so dW2 = hᵀ·dout"
SIGN = ("the sign is flipped: backprop multiplies dout by local derivatives, with no minus sign "
        "anywhere in this network")


@dataclass(frozen=True)
class Problem:
    x: torch.Tensor
    params: dict[str, torch.Tensor]
    dout: torch.Tensor

    @property
    def z1(self) -> torch.Tensor:
        return self.x @ self.params["W1"] + self.params["b1"]

    def output(self, x: torch.Tensor | None = None, **override: torch.Tensor) -> torch.Tensor:
        p = {**self.params, **override}
        x = self.x if x is None else x
        return torch.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def make_problem(seed: int, n: int = N, d: int = D, h: int = H, o: int = OUT,
                 dtype: torch.dtype = F64) -> Problem:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    params = {"W1": randn(d, h), "b1": randn(h), "W2": randn(h, o), "b2": randn(o)}
    return Problem(randn(n, d), params, randn(n, o))


def kink_problem(seed: int) -> Problem:
    """Small integers everywhere, so z1 = x @ W1 + b1 holds exact zeros (float64 is exact)."""
    g = torch.Generator().manual_seed(seed)

    def ints(*shape: int) -> torch.Tensor:
        return torch.randint(-2, 3, shape, generator=g).to(F64)

    params = {"W1": ints(D, H), "b1": ints(H), "W2": ints(H, OUT), "b2": ints(OUT)}
    dout = torch.randn(N, OUT, generator=g, dtype=F64)
    return Problem(ints(N, D), params, dout)


def autograd_gradients(problem: Problem) -> dict[str, torch.Tensor]:
    leaves = {k: v.clone().requires_grad_(True) for k, v in problem.params.items()}
    x = problem.x.clone().requires_grad_(True)
    out = problem.output(x, **leaves)
    grads = torch.autograd.grad(out, [*leaves.values(), x], grad_outputs=problem.dout)
    return dict(zip([*leaves, "x"], grads, strict=True))


def buggy_gradients(problem: Problem) -> dict[str, dict[str, torch.Tensor]]:
    """The classic slips, computed on the same inputs: {bug name: {key: gradient}}."""
    p, x, dout, z1 = problem.params, problem.x, problem.dout, problem.z1
    dh = dout @ p["W2"].T

    def through(mask: torch.Tensor) -> dict[str, torch.Tensor]:
        dz1 = dh * mask
        return {"W1": x.T @ dz1, "b1": dz1.sum(0), "x": dz1 @ p["W1"].T}

    dz1 = dh * (z1 > 0)
    return {
        SIGN: {key: -grad for key, grad in autograd_gradients(problem).items()},
        NO_MASK: through(torch.ones_like(z1)),
        KINK: through((z1 >= 0).to(F64)),
        BIAS_MEAN: {"b1": dz1.mean(0), "b2": dout.mean(0)},
        PRE_RELU: {"W2": z1.T @ dout},
    }


def known_bugs(problem: Problem, key: str) -> dict[str, torch.Tensor]:
    return {bug: grads[key] for bug, grads in buggy_gradients(problem).items() if key in grads}


def run_student(student: Any, problem: Problem) -> dict[str, Any]:
    result = student.probe("forward_backward", problem.x, problem.params, problem.dout)
    return _unpack(result, "forward then backward")


def _unpack(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradingFailure(f"{what}: the run returned {type(result).__name__}")
    if "problem" in result:
        raise GradingFailure(str(result["problem"]))
    return result


def student_gradient(result: Mapping[str, Any], key: str) -> Any:
    grads = result.get("grads")
    if not isinstance(grads, dict):
        raise GradingFailure(f"backward(dout, cache): expected a dict of gradients with keys "
                             f"{', '.join(KEYS)}, got {type(grads).__name__}")
    if key not in grads:
        raise GradingFailure(f"backward(dout, cache) returned no gradient for {key!r} (keys: "
                             f"{', '.join(map(str, grads)) or 'none'})",
                             hint=f"return all of {', '.join(KEYS)}; 'x' is dL/dx = dz1 @ W1ᵀ, "
                                  "which an earlier layer would need")
    return grads[key]


def check_gradient(student_result: Mapping[str, Any], problem: Problem, key: str,
                   expected: torch.Tensor, what: str, *, rtol: float = 1e-7,
                   atol: float = 1e-9) -> None:
    got = student_gradient(student_result, key)
    per_sample = (problem.x.shape[0], *expected.shape)
    if key in ("b1", "b2") and isinstance(got, torch.Tensor) and tuple(got.shape) == per_sample:
        raise GradingFailure(f"{what}: expected shape {list(expected.shape)} (the bias's shape), "
                             f"got {list(got.shape)}: one row per sample",
                             hint="the bias is shared by every sample: sum over the batch "
                                  "(dim 0)")
    assert_gradient_close(got, expected, what, rtol=rtol, atol=atol,
                          known_bugs=known_bugs(problem, key))


def _assert_output(got: Any, problem: Problem, what: str) -> None:
    p, x = problem.params, problem.x
    candidates = [
        ("the ReLU is missing: h = relu(z1) keeps z1 where z1 > 0 and is 0 elsewhere",
         (x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]),
        ("the bias b1 is missing: z1 = x @ W1 + b1", torch.relu(x @ p["W1"]) @ p["W2"] + p["b2"]),
        ("the bias b2 is missing: out = h @ W2 + b2", torch.relu(x @ p["W1"] + p["b1"]) @ p["W2"]),
    ]
    try:
        assert_close(got, problem.output(), what, rtol=1e-6, atol=1e-6)
    except GradingFailure as failure:
        if isinstance(got, torch.Tensor):
            for bug, value in candidates:
                if got.shape == value.shape and torch.allclose(
                        got.detach().to(value.dtype), value, rtol=1e-5, atol=1e-5):
                    raise GradingFailure(failure.message, hint=f"likely bug: {bug}") from None
        raise


@pytest.mark.points(2)
def test_forward_output(student: Any) -> None:
    """forward returns out = relu(x @ W1 + b1) @ W2 + b2, shape [N, O]"""
    problem = make_problem(0)
    result = _unpack(student.probe("forward_only", problem.x, problem.params), "forward")
    _assert_output(result.get("out"), problem, "out from forward(x, params)")


@pytest.mark.points(1)
def test_forward_keeps_float32(student: Any) -> None:
    """forward keeps the inputs' dtype (float32 in, float32 out)"""
    problem = make_problem(1, dtype=torch.float32)
    result = _unpack(student.probe("forward_only", problem.x, problem.params), "forward")
    out = require_tensor(result.get("out"), "out from forward on float32 inputs",
                         shape=(N, OUT), dtype=torch.float32)
    assert_close(out, problem.output(), "out from forward on float32 inputs", rtol=1e-4,
                 atol=1e-5)


@pytest.mark.points(2)
@pytest.mark.hint("out = h @ W2 + b2, so dL/dW2 = hᵀ @ dout: shape [H, O]")
def test_backward_dW2_matches_autograd(student: Any) -> None:
    """backward: dL/dW2 equals autograd's gradient (float64)"""
    problem = make_problem(2)
    check_gradient(run_student(student, problem), problem, "W2",
                   autograd_gradients(problem)["W2"], "dL/dW2 from backward")


@pytest.mark.points(1)
@pytest.mark.hint("b2 is added to every row of the output: dL/db2 sums dout over the batch")
def test_backward_db2_matches_autograd(student: Any) -> None:
    """backward: dL/db2 equals autograd's gradient, summed over the batch (float64)"""
    problem = make_problem(3)
    check_gradient(run_student(student, problem), problem, "b2",
                   autograd_gradients(problem)["b2"], "dL/db2 from backward")


@pytest.mark.points(2)
@pytest.mark.hint("dz1 = (dout @ W2ᵀ) * (z1 > 0), then dL/dW1 = xᵀ @ dz1: shape [D, H]")
def test_backward_dW1_matches_autograd(student: Any) -> None:
    """backward: dL/dW1 equals autograd's gradient, through the ReLU (float64)"""
    problem = make_problem(4)
    check_gradient(run_student(student, problem), problem, "W1",
                   autograd_gradients(problem)["W1"], "dL/dW1 from backward")


@pytest.mark.points(1)
@pytest.mark.hint("dL/db1 sums dz1 = (dout @ W2ᵀ) * (z1 > 0) over the batch")
def test_backward_db1_matches_autograd(student: Any) -> None:
    """backward: dL/db1 equals autograd's gradient, summed over the batch (float64)"""
    problem = make_problem(5)
    check_gradient(run_student(student, problem), problem, "b1",
                   autograd_gradients(problem)["b1"], "dL/db1 from backward")


@pytest.mark.points(2)
@pytest.mark.hint("dL/dx = dz1 @ W1ᵀ: shape [N, D], one row per sample")
def test_backward_dx_matches_autograd(student: Any) -> None:
    """backward: dL/dx equals autograd's gradient (float64)"""
    problem = make_problem(6)
    check_gradient(run_student(student, problem), problem, "x",
                   autograd_gradients(problem)["x"], "dL/dx from backward")


@pytest.mark.points(1)
def test_backward_batch_size_one(student: Any) -> None:
    """backward works on a batch of one sample: every gradient keeps its shape"""
    problem = make_problem(7, n=1)
    result = run_student(student, problem)
    expected = autograd_gradients(problem)
    for key in KEYS:
        check_gradient(result, problem, key, expected[key],
                       f"dL/d{key} from backward with a batch of one sample")


@pytest.mark.points(2)
@pytest.mark.hint("torch's ReLU has gradient 0 at exactly 0: the mask is z1 > 0")
def test_backward_relu_gradient_zero_at_kink(student: Any) -> None:
    """backward: where z1 is exactly 0, no gradient flows through the ReLU, as in torch"""
    problem = kink_problem(8)
    zeros = int((problem.z1 == 0).sum())
    if zeros < 3 or not bool((problem.z1 > 0).any()):
        raise RuntimeError("lesson 2.2 grader: the kink inputs lost their exact zeros")
    result = run_student(student, problem)
    expected = autograd_gradients(problem)
    for key in ("W1", "b1", "x"):
        check_gradient(result, problem, key, expected[key],
                       f"dL/d{key} from backward with {zeros} entries of z1 exactly 0")


@pytest.mark.points(2)
def test_backward_matches_central_differences(student: Any) -> None:
    """backward agrees with float64 central differences of L = Σ out·dout"""
    problem = make_problem(9, n=3, d=2, h=4, o=3)
    if float(problem.z1.abs().min()) < 1e-3:
        raise RuntimeError("lesson 2.2 grader: an input sits too close to the ReLU kink")
    result = run_student(student, problem)

    def loss(**override: torch.Tensor) -> torch.Tensor:
        x = override.pop("x", None)
        return (problem.output(x, **override) * problem.dout).sum()

    values = {**problem.params, "x": problem.x}
    for key in KEYS:
        numerical = central_difference(lambda v, k=key: loss(**{k: v}), values[key])
        check_gradient(result, problem, key, numerical, f"dL/d{key} against central differences",
                       rtol=1e-5, atol=1e-7)


@pytest.mark.points(1)
def test_forward_backward_leave_inputs_unchanged(student: Any) -> None:
    """forward and backward leave x, the parameters and dout unchanged"""
    problem = make_problem(10)
    after = student.probe("inputs_after", problem.x, problem.params, problem.dout)
    if not isinstance(after, dict) or not isinstance(after.get("params"), dict):
        raise GradingFailure("forward then backward: the run returned no inputs to compare")
    hint = ("compute new tensors instead of changing x, params or dout in place (no +=, *=, "
            "index assignment or trailing-underscore methods such as relu_ on them)")
    assert_close(after.get("x"), problem.x, "x after forward and backward", hint=hint)
    assert_close(after.get("dout"), problem.dout, "dout after backward", hint=hint)
    for key, value in problem.params.items():
        assert_close(after["params"].get(key), value, f"params[{key!r}] after forward and "
                     "backward", hint=hint)
