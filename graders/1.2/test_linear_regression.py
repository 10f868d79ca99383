"""Graders for lesson 1.2 — linear regression by hand.

Gradients are checked in float64 against autograd and against central differences, with
non-square X (N != D) so transposes cannot hide, and with the student's code run where autograd
is switched off.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    central_difference,
    expect_raises,
    require_tensor,
    unpack,
)

N, D = 13, 3


def make_problem(seed: int, n: int = N, d: int = D,
                 dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(d, generator=g, dtype=dtype)
    b = torch.randn((), generator=g, dtype=dtype)
    y = X @ torch.randn(d, generator=g, dtype=dtype) + 0.3 + 0.1 * torch.randn(n, generator=g,
                                                                                dtype=dtype)
    return X, y, w, b


def true_gradients(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                   b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w_ = w.detach().clone().requires_grad_(True)
    b_ = b.detach().clone().requires_grad_(True)
    loss = ((X @ w_ + b_ - y) ** 2).mean()
    dw, db = torch.autograd.grad(loss, (w_, b_))
    return dw, db


def student_gradients(student: Any, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                      b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    result = student.probe("gradients_by_hand", X, y, w, b)
    dw, db = unpack(result, ("dw", "db"), what="mse_gradients")
    return dw, db


@pytest.mark.points(1)
def test_predict_values(student: Any) -> None:
    """predict returns X @ w + b, one value per row (shape [N])"""
    X, _, w, b = make_problem(0)
    assert_close(student.predict(X, w, b), X @ w + b, "predict(X, w, b)")


@pytest.mark.points(1)
def test_predict_keeps_float32(student: Any) -> None:
    """predict keeps the inputs' dtype (float32 in, float32 out)"""
    X, _, w, b = make_problem(1, dtype=torch.float32)
    assert_close(student.predict(X, w, b), X @ w + b, "predict(X, w, b) on float32 inputs")


@pytest.mark.points(1)
def test_mse_loss_value(student: Any) -> None:
    """mse_loss returns the mean of the squared differences as a 0-dim tensor"""
    g = torch.Generator().manual_seed(2)
    pred, true = torch.randn(11, generator=g), torch.randn(11, generator=g)
    got = require_tensor(student.mse_loss(pred, true), "mse_loss(y_pred, y_true)", shape=())
    assert_close(got, ((pred - true) ** 2).mean(), "mse_loss(y_pred, y_true)",
                 hint="the mean over all entries, not the sum")


@pytest.mark.points(1)
@pytest.mark.parametrize("shapes", [((8, 1), (8,)), ((8,), (8, 1)), ((8,), (5,))],
                         ids=["N1-vs-N", "N-vs-N1", "N-vs-M"])
def test_mse_loss_rejects_shape_mismatch(student: Any, shapes: tuple[tuple[int, ...], ...]) -> None:
    """mse_loss raises ValueError when the shapes differ"""
    a, b = torch.zeros(shapes[0]), torch.zeros(shapes[1])
    expect_raises("ValueError", lambda: student.mse_loss(a, b),
                  f"mse_loss on shapes {list(shapes[0])} and {list(shapes[1])}",
                  hint="compare y_pred.shape with y_true.shape before computing; broadcasting "
                       "[N, 1] against [N] silently builds an [N, N] matrix")


@pytest.mark.points(3)
@pytest.mark.hint("L = mean(r²) with r = Xw + b - y, so dL/dw = (2/N)·Xᵀr")
def test_mse_gradient_w_matches_autograd(student: Any) -> None:
    """mse_gradients: dL/dw equals autograd's gradient (float64)"""
    X, y, w, b = make_problem(3)
    dw, _ = student_gradients(student, X, y, w, b)
    expected, _ = true_gradients(X, y, w, b)
    assert_gradient_close(dw, expected, "dL/dw from mse_gradients", batch_size=N)


@pytest.mark.points(2)
@pytest.mark.hint("dL/db = (2/N)·sum(r), a 0-dim tensor")
def test_mse_gradient_b_matches_autograd(student: Any) -> None:
    """mse_gradients: dL/db equals autograd's gradient, as a 0-dim tensor (float64)"""
    X, y, w, b = make_problem(4)
    _, db = student_gradients(student, X, y, w, b)
    _, expected = true_gradients(X, y, w, b)
    assert_gradient_close(db, expected, "dL/db from mse_gradients", batch_size=N)


@pytest.mark.points(2)
def test_mse_gradients_match_central_differences(student: Any) -> None:
    """mse_gradients agrees with float64 central differences at another point and size"""
    X, y, w, b = make_problem(5, n=21, d=4)
    dw, db = student_gradients(student, X, y, w, b)
    num_w = central_difference(lambda v: ((X @ v + b - y) ** 2).mean(), w)
    num_b = central_difference(lambda v: ((X @ w + v - y) ** 2).mean(), b)
    assert_gradient_close(dw, num_w, "dL/dw against central differences", rtol=1e-5,
                          atol=1e-7, batch_size=21)
    assert_gradient_close(db, num_b, "dL/db against central differences", rtol=1e-5,
                          atol=1e-7, batch_size=21)


@pytest.mark.points(1)
def test_mse_gradients_single_feature(student: Any) -> None:
    """mse_gradients works with one feature (D = 1): dw has shape [1]"""
    X, y, w, b = make_problem(6, n=9, d=1)
    dw, db = student_gradients(student, X, y, w, b)
    exp_w, exp_b = true_gradients(X, y, w, b)
    assert_gradient_close(dw, exp_w, "dL/dw with one feature", batch_size=9)
    assert_gradient_close(db, exp_b, "dL/db with one feature", batch_size=9)


@pytest.mark.points(1)
def test_mse_gradients_leave_inputs_unchanged(student: Any) -> None:
    """mse_gradients does not modify X, y, w or b"""
    X, y, w, b = make_problem(7)
    snapshot = student.probe("inputs_after_gradients", X, y, w, b)
    for name, before, after in zip(("X", "y", "w", "b"), (X, y, w, b), snapshot, strict=True):
        assert_close(after, before, f"{name} after calling mse_gradients",
                     hint="compute new tensors instead of updating the inputs in place")


def _fit(student: Any, X: torch.Tensor, y: torch.Tensor, lr: float,
         n_steps: int) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
    result = student.probe("fit_by_hand", X, y, lr, n_steps)
    w, b, losses = unpack(result, ("w", "b", "losses"), what="fit")
    if not isinstance(losses, list):
        raise GradingFailure(f"fit: losses must be a list of floats, got {type(losses).__name__}")
    return w, b, losses


@pytest.mark.points(3)
def test_fit_reaches_least_squares(student: Any) -> None:
    """fit reaches the least-squares solution (torch.linalg.lstsq)"""
    X, y, _, _ = make_problem(8, n=40, d=3)
    w, b, _ = _fit(student, X, y, lr=0.1, n_steps=500)
    design = torch.cat([X, torch.ones(40, 1, dtype=X.dtype)], dim=1)
    solution = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
    require_tensor(w, "w returned by fit", shape=(3,))
    require_tensor(b, "b returned by fit", shape=())
    assert_close(w, solution[:3], "w after fit (vs least squares)", rtol=1e-4, atol=1e-4,
                 hint="update w and b by -lr times their gradients at every step")
    assert_close(b, solution[3], "b after fit (vs least squares)", rtol=1e-4, atol=1e-4)


@pytest.mark.points(2)
def test_fit_records_loss_before_each_step(student: Any) -> None:
    """fit returns one float loss per step, the first at w = 0, b = 0, and the loss falls"""
    X, y, _, _ = make_problem(9, n=30, d=2)
    _, _, losses = _fit(student, X, y, lr=0.05, n_steps=40)
    if len(losses) != 40:
        raise GradingFailure(f"fit(n_steps=40): expected 40 losses, got {len(losses)}")
    values = [as_float(v, f"losses[{i}]") for i, v in enumerate(losses)]
    if not all(isinstance(v, float) for v in losses):
        raise GradingFailure("fit: losses must be Python floats, not tensors",
                             hint="append float(loss) or loss.item()")
    start = float((y ** 2).mean())
    if abs(values[0] - start) > 1e-6 * max(1.0, start):
        raise GradingFailure(f"losses[0]: expected {start:.6g} (the loss at w = 0, b = 0, "
                             f"before any update), got {values[0]:.6g}",
                             hint="record the loss before updating the parameters")
    if not all(b <= a + 1e-12 for a, b in itertools.pairwise(values)):
        raise GradingFailure("fit: the loss went up during gradient descent with a small "
                             "learning rate", hint="check the sign of the update")


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_fit_keeps_float32(student: Any) -> None:
    """fit keeps float32 inputs in float32 and still converges"""
    X, y, _, _ = make_problem(10, n=25, d=2, dtype=torch.float32)
    w, b, losses = _fit(student, X, y, lr=0.1, n_steps=300)
    require_tensor(w, "w returned by fit on float32 inputs", dtype=torch.float32)
    require_tensor(b, "b returned by fit on float32 inputs", dtype=torch.float32)
    if not float(as_float(losses[-1], "last loss")) < float(as_float(losses[0], "first loss")):
        raise GradingFailure("fit on float32 inputs: the loss did not fall")
