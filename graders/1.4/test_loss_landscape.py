"""Graders for lesson 1.4 — the loss landscape of y ≈ w·x + b and gradient descent's path on it.

Surfaces are checked entry by entry on grids with len(w_values) != len(b_values), so a transposed
or reshaped result cannot pass, and the grid computation is timed against the reference's
broadcasting on a grid large enough that a Python loop over grid points is far slower. Paths are
checked against the reference and against the loss itself (it must go down).
"""

from __future__ import annotations

import itertools
import types
from typing import Any

import pytest
import torch

from loopgrader.checks import GradingFailure, assert_close, fmt_shape, require_tensor
from loopgrader.checks.loop import analyse_loop, assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)


def line_data(n: int, seed: int,
              dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, generator=g, dtype=dtype)
    y = 2.0 * X - 1.0 + 0.5 * torch.randn(n, generator=g, dtype=dtype)
    return X, y


def grid(n_w: int, n_b: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
    return (torch.linspace(-1.0, 4.0, n_w, dtype=dtype),
            torch.linspace(-3.5, 1.5, n_b, dtype=dtype))


def expected_surface(X: torch.Tensor, y: torch.Tensor, w_values: torch.Tensor,
                     b_values: torch.Tensor) -> torch.Tensor:
    """Entry by entry, straight from the definition (small grids only)."""
    out = torch.empty(len(w_values), len(b_values), dtype=X.dtype)
    for i, j in itertools.product(range(len(w_values)), range(len(b_values))):
        out[i, j] = ((w_values[i] * X + b_values[j] - y) ** 2).mean()
    return out


def _surface_bug(got: torch.Tensor, expected: torch.Tensor, n: int) -> str | None:
    """A known slip whose result matches ``got`` (same shape as ``expected`` by now)."""
    got = got.detach().double()
    candidates = {
        "sum instead of mean: divide by N (take .mean() over the samples)": expected * n,
        "the square root was taken (that is the RMSE, not the MSE)": expected.sqrt(),
    }
    if min(expected.shape) > 1:
        candidates["the entries are in the wrong places: a [len(b_values), len(w_values)] "
                   "result was reshaped, not built as [len(w_values), len(b_values)]"] = \
            expected.T.reshape(expected.shape)
    for bug, candidate in candidates.items():
        if torch.allclose(got, candidate.double(), rtol=1e-5, atol=1e-8):
            return bug
    return None


def _check_surface(got: Any, expected: torch.Tensor, n: int, what: str, *, rtol: float = 1e-6,
                   atol: float = 1e-9) -> None:
    tensor = require_tensor(got, what)
    shape = tuple(expected.shape)
    if tuple(tensor.shape) != shape:
        if tuple(tensor.shape) == shape[::-1]:
            raise GradingFailure(
                f"{what}: expected shape {fmt_shape(expected)} ([len(w_values), "
                f"len(b_values)]), got {fmt_shape(tensor)}: the result is transposed",
                hint="rows follow w_values and columns follow b_values: give w the first "
                     "dimension, b the second, the samples the last")
        if tensor.numel() == expected.numel():
            raise GradingFailure(f"{what}: expected shape {fmt_shape(expected)}, got "
                                 f"{fmt_shape(tensor)}: a dimension of size 1 was squeezed away",
                                 hint="do not .squeeze() the result: a grid with a single w "
                                      "value is still [1, len(b_values)]")
        require_tensor(tensor, what, shape=shape)
    correct = torch.allclose(tensor.detach().double(), expected.double(), rtol=rtol, atol=atol)
    bug = None if correct else _surface_bug(tensor, expected, n)
    if bug is not None:
        raise GradingFailure(f"{what}: the entries are not the MSE of each (w_values[i], "
                             f"b_values[j]): {bug}", hint=bug)
    assert_close(tensor, expected, what, rtol=rtol, atol=atol,
                 hint="entry (i, j) = mean over the samples of "
                      "(w_values[i] * X + b_values[j] - y) ** 2")


@pytest.mark.points(3)
def test_surface_values(student: Any) -> None:
    """loss_surface: entry (i, j) is the MSE of the line w_values[i]·x + b_values[j] (float64)"""
    X, y = line_data(13, seed=0)
    w_values, b_values = grid(7, 5)
    _check_surface(student.loss_surface(X, y, w_values, b_values),
                   expected_surface(X, y, w_values, b_values), 13,
                   "loss_surface(N=13, 7 w values, 5 b values)")


@pytest.mark.points(2)
def test_surface_orientation(student: Any) -> None:
    """loss_surface has shape [len(w_values), len(b_values)]: rows follow w, columns follow b"""
    X, y = line_data(9, seed=1)
    w_values = torch.tensor([-2.0, 0.0, 1.0, 2.5, 3.0, 5.0], dtype=torch.float64)
    b_values = torch.tensor([-4.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    _check_surface(student.loss_surface(X, y, w_values, b_values),
                   expected_surface(X, y, w_values, b_values), 9,
                   "loss_surface(6 w values, 4 b values)")


@pytest.mark.points(1)
@pytest.mark.parametrize("n_w,n_b", [(1, 5), (4, 1), (1, 1)], ids=["one-w", "one-b", "one-each"])
def test_surface_shape_with_single_values(student: Any, n_w: int, n_b: int) -> None:
    """loss_surface keeps both grid dimensions when an axis holds a single value"""
    X, y = line_data(6, seed=2)
    w_values, b_values = grid(n_w, n_b)
    _check_surface(student.loss_surface(X, y, w_values, b_values),
                   expected_surface(X, y, w_values, b_values), 6,
                   f"loss_surface({n_w} w values, {n_b} b values)")


@pytest.mark.points(1)
def test_surface_keeps_float32(student: Any) -> None:
    """loss_surface on float32 inputs returns float32 values"""
    X, y = line_data(50, seed=3, dtype=torch.float32)
    w_values, b_values = grid(8, 6, dtype=torch.float32)
    expected = expected_surface(X.double(), y.double(), w_values.double(), b_values.double())
    _check_surface(student.loss_surface(X, y, w_values, b_values), expected.float(), 50,
                   "loss_surface on float32 inputs", rtol=1e-4, atol=1e-4)


@pytest.mark.points(1)
def test_surface_leaves_inputs_unchanged(student: Any) -> None:
    """loss_surface does not modify X, y, w_values or b_values"""
    X, y = line_data(10, seed=4)
    w_values, b_values = grid(5, 3)
    after = student.probe("inputs_after_surface", X, y, w_values, b_values)
    names = ("X", "y", "w_values", "b_values")
    if not isinstance(after, (tuple, list)) or len(after) != 4:
        raise GradingFailure("loss_surface: the inputs could not be read back")
    for name, before, now in zip(names, (X, y, w_values, b_values), after, strict=True):
        assert_close(now, before, f"{name} after calling loss_surface",
                     hint="build new tensors (views and broadcasting) instead of writing into "
                          "the inputs")


@pytest.mark.points(3)
def test_surface_is_fast(student: Any, reference_worker: Any, device: torch.device,
                         record: dict[str, Any]) -> None:
    """loss_surface on a 400 × 300 grid takes at most 5× the reference's (broadcast) time"""
    X, y = line_data(100, seed=5, dtype=torch.float32)
    w_values, b_values = grid(400, 300, dtype=torch.float32)
    verdict = time_against_reference(student, reference_worker, "surface_on_device", X, y,
                                     w_values, b_values, str(device), device=str(device),
                                     allowed=5.0)
    assert_timing(verdict, "loss_surface on a 400 × 300 grid (N = 100)", record, key="surface")
    assert_timed_result(verdict, "of the surface", record=record, key="surface")


# --- gradient_descent_path -------------------------------------------------------------------

def mse(X: torch.Tensor, y: torch.Tensor, w: float, b: float) -> float:
    return float(((w * X + b - y) ** 2).mean())


def _path(student: Any, X: torch.Tensor, y: torch.Tensor, w0: float, b0: float, lr: float,
          n_steps: int) -> tuple[torch.Tensor, str]:
    what = f"gradient_descent_path(w0={w0}, b0={b0}, lr={lr}, n_steps={n_steps})"
    got = require_tensor(student.gradient_descent_path(X, y, w0, b0, lr, n_steps), what)
    return got, what


@pytest.mark.points(2)
def test_path_shape_and_start(student: Any, reference: types.ModuleType) -> None:
    """gradient_descent_path returns [n_steps + 1, 2] rows (w, b), the first being the start"""
    X, y = line_data(20, seed=6)
    got, what = _path(student, X, y, -1.5, 2.25, 0.1, 25)
    expected = reference.gradient_descent_path(X, y, -1.5, 2.25, 0.1, 25)
    if tuple(got.shape) == (25, 2) and torch.allclose(got.double(), expected[1:], rtol=1e-5,
                                                      atol=1e-8):
        raise GradingFailure(f"{what}: expected shape [26, 2], got [25, 2]: the start row "
                             "(w0, b0) is missing",
                             hint="row 0 is the start (w0, b0), then one row after each step")
    require_tensor(got, what, shape=(26, 2))
    assert_close(got[0], torch.tensor([-1.5, 2.25], dtype=X.dtype), f"{what}: row 0",
                 hint="row 0 must be the start (w0, b0), before any step")


@pytest.mark.points(1)
def test_path_with_zero_steps(student: Any) -> None:
    """gradient_descent_path with n_steps=0 is just the start: [[w0, b0]]"""
    X, y = line_data(8, seed=7)
    got, what = _path(student, X, y, 0.5, -0.75, 0.1, 0)
    assert_close(got, torch.tensor([[0.5, -0.75]], dtype=X.dtype), what,
                 hint="no steps: the path holds only the start row")


@pytest.mark.points(2)
def test_path_descends(student: Any) -> None:
    """along gradient_descent_path the loss never goes up (small learning rate)"""
    X, y = line_data(30, seed=8)
    got, what = _path(student, X, y, -2.0, 3.0, 0.1, 40)
    require_tensor(got, what, shape=(41, 2))
    losses = [mse(X, y, float(w), float(b)) for w, b in got.detach().double()]
    for k, (before, after) in enumerate(itertools.pairwise(losses), start=1):
        if after > before * (1 + 1e-9) + 1e-12:
            raise GradingFailure(f"{what}: the loss went up at step {k}: {before:.6g} → "
                                 f"{after:.6g}",
                                 hint="move against the gradient: w - lr * dL/dw (a flipped "
                                      "sign climbs the surface; gradients left to pile up "
                                      "from step to step overshoot)")
    if not losses[-1] < 0.5 * losses[0]:
        raise GradingFailure(f"{what}: the loss barely fell in 40 steps: {losses[0]:.6g} → "
                             f"{losses[-1]:.6g}",
                             hint="each step moves by -lr times the gradient of the MSE")


@pytest.mark.points(3)
def test_path_matches_reference(student: Any, reference: types.ModuleType) -> None:
    """gradient_descent_path visits the same points as the reference (float64)"""
    X, y = line_data(25, seed=9)
    got, what = _path(student, X, y, 3.5, -2.5, 0.05, 30)
    expected = reference.gradient_descent_path(X, y, 3.5, -2.5, 0.05, 30)
    require_tensor(got, what, shape=(31, 2))
    step = expected[1] - expected[0]
    for factor, bug in ((0.5, "half the expected one: the factor 2 of d(r²)/dr = 2r is missing"),
                        (2.0, "twice the expected one: one factor 2 too many")):
        if torch.allclose(got[1].double(), expected[0] + factor * step, rtol=1e-6, atol=1e-9):
            raise GradingFailure(f"{what}: the first step is {bug}",
                                 hint="dL/dw = 2·mean(r·x) and dL/db = 2·mean(r) with "
                                      "r = w·x + b - y")
    assert_close(got, expected, what, rtol=1e-6, atol=1e-9,
                 hint="gradient of L = mean((w·x + b - y)²): dL/dw = 2·mean(r·x), dL/db = "
                      "2·mean(r) with r = w·x + b - y; then (w, b) ← (w, b) - lr·gradient")


@pytest.mark.points(1)
def test_path_keeps_float32(student: Any, reference: types.ModuleType) -> None:
    """gradient_descent_path on float32 data returns float32 rows without autograd history"""
    X, y = line_data(25, seed=10, dtype=torch.float32)
    got, what = _path(student, X, y, 1.0, 1.0, 0.1, 10)
    if got.requires_grad:
        raise GradingFailure(f"{what}: the result still requires grad",
                             hint="return plain numbers: .detach() the path, or build it under "
                                  "torch.no_grad()")
    expected = reference.gradient_descent_path(X.double(), y.double(), 1.0, 1.0, 0.1, 10)
    assert_close(got, expected.float(), what, rtol=1e-4, atol=1e-5)


@pytest.mark.points(1)
def test_path_with_autograd_clears_gradients(student: Any) -> None:
    """if gradient_descent_path uses backward(), each step starts from cleared gradients (traced)"""
    X, y = line_data(12, seed=11)
    out = student.probe("path_traced", X, y, 0.5, 0.5, 0.1, 6)
    if not isinstance(out, dict):
        raise GradingFailure("gradient_descent_path could not be traced")
    log = out.get("log")
    if isinstance(log, dict) and analyse_loop(log).backwards == 0:
        return  # gradients by hand (or torch.autograd.grad): nothing accumulates in .grad
    assert_loop_order(log, "gradient_descent_path(n_steps=6)")
