"""Graders for lesson 1.5 — numerical vs. analytical gradients.

The functions being differentiated live in ``probes.py`` (callables cannot cross to the worker);
this file loads the same module to compute their true gradients with autograd, in float64.
Second-order accuracy is proven on x³, whose central difference is exactly 3x² + eps², and at the
default eps, where a forward difference is off by about eps·f''/2 and a central one is not.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    central_difference,
    require_tensor,
    unpack,
)


def _load_functions() -> ModuleType:
    path = Path(__file__).with_name("probes.py")
    spec = importlib.util.spec_from_file_location("loopgrader_lesson_1_5_functions", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTIONS = _load_functions()
F64 = torch.float64
FORWARD_BUG = ("this is a forward difference (f(x + eps) - f(x)) / eps, accurate only to first "
               "order: use the central difference (f(x + eps) - f(x - eps)) / (2·eps)")
HALVING_BUG = ("it is twice the true slope: the two evaluations are 2·eps apart, so divide by "
               "2·eps, not by eps")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def true_gradient(name: str, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    point = x.detach().to(F64).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(FUNCTIONS.make_function(name, params)(point), point)
    return grad


def forward_difference(name: str, x: torch.Tensor, params: dict[str, torch.Tensor],
                       eps: float) -> torch.Tensor:
    f = FUNCTIONS.make_function(name, params)
    point = x.detach().to(F64).clone()
    base = float(f(point))
    grad = torch.zeros_like(point)
    flat = point.view(-1)
    for i in range(flat.numel()):
        saved = float(flat[i])
        flat[i] = saved + eps
        grad.view(-1)[i] = (float(f(point)) - base) / eps
        flat[i] = saved
    return grad


def cosine_problem(seed: int, n: int = 6) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = _gen(seed)
    A = torch.randn(n, n, generator=g, dtype=F64)
    x = torch.randn(n, generator=g, dtype=F64)
    return x, {"A": A}


def quadratic_params(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = _gen(seed)
    return {"Q": torch.randn(n, n, generator=g, dtype=F64),
            "c": torch.randn(n, generator=g, dtype=F64)}


def student_numerical(student: Any, name: str, x: torch.Tensor,
                      params: dict[str, torch.Tensor], eps: float | None = None) -> torch.Tensor:
    got = student.probe("numerical", name, x, params, eps)
    return require_tensor(got, "numerical_gradient(f, x)")


@pytest.mark.points(2)
@pytest.mark.hint("for each entry i: (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps), in float64")
def test_numerical_gradient_matches_autograd(student: Any) -> None:
    """numerical_gradient agrees with autograd to about 1e-7 at the default eps (float64)"""
    x, params = cosine_problem(0)
    got = student_numerical(student, "coupled_cosine", x, params)
    expected = true_gradient("coupled_cosine", x, params)
    assert_gradient_close(
        got, expected, "numerical_gradient(f, x) with the default eps = 1e-6, vs autograd",
        rtol=1e-7, atol=1e-8,
        known_bugs={FORWARD_BUG: forward_difference("coupled_cosine", x, params, 1e-6),
                    HALVING_BUG: 2 * expected})


@pytest.mark.points(3)
@pytest.mark.hint("on f(x) = Σx³ the central difference is exactly 3x² + eps²: its error "
                  "shrinks 100× when eps shrinks 10×")
def test_error_shrinks_like_eps_squared(student: Any) -> None:
    """numerical_gradient is second-order accurate: on Σx³ its error is exactly eps²"""
    x = torch.tensor([-1.5, -0.4, 0.3, 0.8, 2.0], dtype=F64)
    exact = 3 * x**2
    for eps in (0.1, 0.01):
        got = student_numerical(student, "cubic", x, {}, eps)
        forward = 3 * x**2 + 3 * x * eps + eps**2
        assert_gradient_close(
            got, exact + eps**2,
            f"numerical_gradient of Σx³ with eps={eps:g} (central differences give exactly "
            f"3x² + eps² = 3x² + {eps**2:g})", rtol=1e-8, atol=1e-10,
            known_bugs={FORWARD_BUG: forward,
                        HALVING_BUG: 2 * (exact + eps**2),
                        "it matches the exact gradient 3x², as a much smaller step would: "
                        "numerical_gradient ignores the eps it is given": exact})


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 2)], ids=["0-dim", "1-D", "3-D"])
def test_numerical_gradient_any_shape(student: Any, shape: tuple[int, ...]) -> None:
    """numerical_gradient works for x of any shape and returns x's shape"""
    n = torch.Size(shape).numel()
    x = torch.randn(shape, generator=_gen(10 + len(shape)), dtype=F64)
    params = quadratic_params(n, 20 + len(shape))
    got = student_numerical(student, "quadratic_sine", x, params)
    expected = true_gradient("quadratic_sine", x, params)
    if tuple(got.shape) != tuple(shape):
        raise GradingFailure(f"numerical_gradient on x of shape {list(shape)}: expected a result "
                             f"of the same shape, got {list(got.shape)}",
                             hint="build the result with torch.zeros_like(x), fill a flat view "
                                  "of it, and return it in x's shape")
    assert_gradient_close(got, expected, f"numerical_gradient on x of shape {list(shape)}",
                          rtol=1e-6, atol=1e-8)


@pytest.mark.points(1)
def test_numerical_gradient_leaves_x_unchanged(student: Any) -> None:
    """numerical_gradient leaves x exactly as it was"""
    x, params = cosine_problem(3, n=8)
    x = x.reshape(2, 4)
    after = student.probe("x_after_numerical", "coupled_cosine", x, params)
    after = require_tensor(after, "x after numerical_gradient(f, x)", shape=(2, 4), dtype=F64)
    if not torch.equal(after, x):
        changed = int((after != x).sum())
        worst = float((after - x).abs().max())
        raise GradingFailure(
            f"x after numerical_gradient(f, x): {changed} of {x.numel()} entries changed "
            f"(largest change {worst:.3g}); x must be left exactly as it was",
            hint="work on a copy (x.clone()), or restore each entry to its saved value: "
                 "x + eps - eps is not always x in floating point, and an entry left at "
                 "x + eps or x - eps is a perturbation never undone")


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_numerical_gradient_keeps_dtype(student: Any, dtype: torch.dtype) -> None:
    """numerical_gradient returns x's dtype (float32 stays float32, float64 stays float64)"""
    x = torch.randn(4, generator=_gen(30), dtype=F64)
    params = quadratic_params(4, 31)
    expected = true_gradient("quadratic", x, params)
    got = student_numerical(student, "quadratic", x.to(dtype), params, 1e-2)
    name = str(dtype).replace("torch.", "")
    require_tensor(got, f"numerical_gradient(f, x) with {name} x", dtype=dtype)
    tol = 1e-3 if dtype == torch.float32 else 1e-7
    assert_close(got, expected.to(dtype), f"numerical_gradient(f, x) with {name} x and eps=0.01",
                 rtol=tol, atol=tol)


def _relative_error_candidates(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    diff, total = (a - b).abs(), a.abs() + b.abs()
    return {
        "you took the mean over entries: the contract asks for the max over entries":
            float((diff / total.clamp_min(1e-12)).mean()),
        "you divided the largest difference by the largest |a| + |b|: divide entry by entry, "
        "then take the max over entries": float(diff.max() / total.max().clamp_min(1e-12)),
        "you added 1e-12 to |a| + |b|: the floor is max(|a| + |b|, 1e-12)":
            float((diff / (total + 1e-12)).max()),
    }


def _check_relative_error(got: Any, a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    value = as_float(got, what)
    expected = float(((a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-12)).max())
    if abs(value - expected) <= 1e-9 * abs(expected) + 1e-15:
        return
    hint = "max over entries of |a - b| / max(|a| + |b|, 1e-12)"
    if value != value:
        hint = ("you returned nan: entries where a and b are both 0 give 0/0; divide by "
                "max(|a| + |b|, 1e-12), e.g. (|a| + |b|).clamp_min(1e-12)")
    for bug, candidate in _relative_error_candidates(a, b).items():
        if abs(value - candidate) <= 1e-6 * abs(candidate) and \
                abs(candidate - expected) > 1e-6 * abs(expected):
            hint = f"likely bug: {bug}"
            break
    raise GradingFailure(f"{what}: expected {expected:.6g}, got {value:.6g}", hint=hint)


@pytest.mark.points(2)
def test_relative_error_formula(student: Any) -> None:
    """relative_error is the max over entries of |a - b| / max(|a| + |b|, 1e-12)"""
    a = torch.tensor([[1.0, -2.0, 0.5, 100.0], [3.0, 0.001, -4.0, 7.0],
                      [0.25, 10.0, -0.75, 2.0]], dtype=F64)
    b = a * (1 + 1e-3 * torch.randn(3, 4, generator=_gen(40), dtype=F64))
    b[1, 1] = 0.0012
    _check_relative_error(student.relative_error(a, b), a, b, "relative_error(a, b)")


@pytest.mark.points(1)
def test_relative_error_floor(student: Any) -> None:
    """relative_error gives 0, not nan, where both are 0, and floors tiny denominators at 1e-12"""
    a = torch.tensor([0.0, 0.0, 3e-13, -1.0, 2.0], dtype=F64)
    b = torch.tensor([0.0, 0.0, 1e-13, -1.0, 2.0], dtype=F64)
    _check_relative_error(student.relative_error(a, b), a, b,
                          "relative_error(a, b) with zeros and entries near 1e-13")


@pytest.mark.points(1)
def test_relative_error_returns_float(student: Any) -> None:
    """relative_error returns a Python float"""
    a = torch.tensor([1.0, 2.0], dtype=F64)
    got = student.relative_error(a, a * 1.01)
    if not isinstance(got, float):
        raise GradingFailure(f"relative_error(a, b): expected a Python float, got "
                             f"{type(got).__name__}", hint="convert with float(...) or .item()")


def _check_result(got: Any, what: str) -> tuple[bool, float]:
    ok, error = unpack(got, ("ok", "error"), what=what)
    if not isinstance(ok, bool):
        raise GradingFailure(f"{what}: ok must be a Python bool, got {type(ok).__name__}",
                             hint="return bool(error <= tol) with error a Python float")
    return ok, as_float(error, f"{what}: error")


def _expected_error(name: str, x: torch.Tensor, params: dict[str, torch.Tensor],
                    grad: torch.Tensor, eps: float) -> float:
    numerical = central_difference(FUNCTIONS.make_function(name, params), x, eps)
    return float(((numerical - grad).abs() / (numerical.abs() + grad.abs())
                  .clamp_min(1e-12)).max())


def _check_verdict(ok: bool, error: float, expected_ok: bool, expected_error: float, tol: float,
                   what: str, hint: str | None = None) -> None:
    if abs(error - expected_error) > 1e-2 * expected_error + 1e-9:
        raise GradingFailure(f"{what}: error: expected about {expected_error:.3g} "
                             f"(relative_error(numerical_gradient(f, x, eps), grad)), got "
                             f"{error:.3g}",
                             hint="compute the numerical gradient with the eps given, then "
                                  "relative_error(numerical, grad)")
    if ok != expected_ok:
        if hint is None:
            hint = ("likely bug: the comparison is reversed: ok must be error <= tol, and here "
                    "error > tol" if ok else "ok must be True when error <= tol")
        raise GradingFailure(
            f"{what}: expected ok={expected_ok} (error {error:.3g} "
            f"{'<=' if expected_ok else '>'} tol {tol:g}), got ok={ok}", hint=hint)


@pytest.mark.points(2)
def test_check_gradient_accepts_correct_gradient(student: Any) -> None:
    """check_gradient returns (True, a tiny error) for the true gradient"""
    x, params = cosine_problem(50)
    grad = true_gradient("coupled_cosine", x, params)
    what = "check_gradient(f, x, true gradient)"
    ok, error = _check_result(student.probe("check", "coupled_cosine", x, params, grad), what)
    if not 0.0 <= error <= 1e-6:
        raise GradingFailure(f"{what}: expected an error of at most 1e-6 for the true gradient, "
                             f"got {error:.3g}",
                             hint="is numerical_gradient a central difference in float64?")
    _check_verdict(ok, error, True, error, 1e-6, what)


@pytest.mark.points(2)
def test_check_gradient_rejects_wrong_gradient(student: Any) -> None:
    """check_gradient returns (False, its error) for a gradient with one entry 2 % off"""
    x, params = cosine_problem(51)
    grad = true_gradient("coupled_cosine", x, params)
    grad[2] *= 1.02
    what = "check_gradient(f, x, grad with one entry 2 % off)"
    ok, error = _check_result(student.probe("check", "coupled_cosine", x, params, grad), what)
    expected = _expected_error("coupled_cosine", x, params, grad, 1e-6)
    _check_verdict(ok, error, False, expected, 1e-6, what)


@pytest.mark.points(1)
def test_check_gradient_uses_eps_and_tol(student: Any) -> None:
    """check_gradient uses the eps and tol it is given"""
    x = torch.tensor([-1.2, 0.7, 1.5], dtype=F64)
    exact = 3 * x**2
    what = "check_gradient(Σx³, x, 3x², eps=0.1, tol=1e-6)"
    ok, error = _check_result(student.probe("check", "cubic", x, {}, exact, 0.1, 1e-6), what)
    _check_verdict(ok, error, False, _expected_error("cubic", x, {}, exact, 0.1), 1e-6,
                   what + " (a step of 0.1 adds eps² = 0.01 to every entry)")
    x, params = cosine_problem(52)
    grad = true_gradient("coupled_cosine", x, params)
    grad[0] *= 1 + 2e-4
    expected = _expected_error("coupled_cosine", x, params, grad, 1e-6)
    for tol, verdict in ((1e-3, True), (1e-5, False)):
        what = f"check_gradient(f, x, grad with one entry 0.02 % off, tol={tol:g})"
        ok, error = _check_result(student.probe("check", "coupled_cosine", x, params, grad,
                                                None, tol), what)
        _check_verdict(ok, error, verdict, expected, tol, what,
                       hint="compare the error with the tol argument: ok = error <= tol")


@pytest.mark.points(2)
@pytest.mark.hint("d/dx of x·sin(x) is sin(x) + x·cos(x) (product rule)")
def test_grad_f_example_matches_autograd(student: Any) -> None:
    """grad_f_example equals autograd's gradient of f_example (float64)"""
    x = 3 * torch.rand(2, 3, generator=_gen(60), dtype=F64) - 1.5
    point = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((point**3).sum() + (point * torch.sin(point)).sum(), point)
    assert_gradient_close(
        student.grad_f_example(x), expected, "grad_f_example(x)", rtol=1e-10, atol=1e-12,
        known_bugs={
            "the x·cos(x) term is missing: d/dx of x·sin(x) is sin(x) + x·cos(x)":
                3 * x**2 + torch.sin(x),
            "the sin(x) term is missing: d/dx of x·sin(x) is sin(x) + x·cos(x)":
                3 * x**2 + x * torch.cos(x),
            "the product rule's second term is x·cos(x), not cos(x)":
                3 * x**2 + torch.sin(x) + torch.cos(x),
            "d/dx of x³ is 3x², not 3x": 3 * x + torch.sin(x) + x * torch.cos(x),
        })
