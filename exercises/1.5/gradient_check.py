"""Lesson 1.5 — Numerical vs. Analytical Gradients.

An analytic gradient comes from calculus (or from autograd); a numerical gradient comes from
nudging each input a little and watching the function move. When the two agree, you can trust the
formula. This "gradient check" is how every hand-written backward pass in this course is tested.

The numerical gradient you write uses *central* differences: for every entry x_i,

    df/dx_i  ≈  (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps)

where e_i is 1 at entry i and 0 elsewhere. Its error shrinks like eps² (second order), while the
one-sided forward difference (f(x + eps·e_i) - f(x)) / eps only shrinks like eps. Work in float64:
in float32, x + 1e-6 is rounded so coarsely that the difference is mostly noise.

Check your work with:  loopgrader check 1.5
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def numerical_gradient(f: Callable[[Tensor], Tensor], x: Tensor, eps: float = 1e-6) -> Tensor:
    """Central-difference estimate of the gradient of a scalar function f at x.

    Args:
        f: takes a tensor shaped like x and returns a 0-dim tensor (a single number).
        x: the point, of any shape (0-dim, [n], [a, b, c], ...).
        eps: the step: entry i is moved to x_i + eps and to x_i - eps, one entry at a time.

    Returns:
        A tensor with x's shape and dtype whose entry i is
        (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps).

    x must be left exactly as it was: perturb a copy, or restore each entry to its saved
    value (adding eps and then subtracting it again does not always give back the same float).
    """
    # TODO: loop over every entry (x.numel() of them; a flat view such as
    # x.clone().view(-1) helps with any shape), evaluate f on both sides, store the slope.
    raise NotImplementedError("1.5: implement numerical_gradient")


def relative_error(a: Tensor, b: Tensor) -> float:
    """The largest relative difference between two tensors of the same shape.

    Returns:
        max over entries of |a - b| / max(|a| + |b|, 1e-12), as a Python float. The 1e-12 floor
        keeps entries where both a and b are 0 at an error of 0 instead of 0/0 = nan.
    """
    # TODO: element-wise |a - b| divided by the floored |a| + |b|, then the largest entry.
    raise NotImplementedError("1.5: implement relative_error")


def check_gradient(f: Callable[[Tensor], Tensor], x: Tensor, grad: Tensor, eps: float = 1e-6,
                   tol: float = 1e-6) -> tuple[bool, float]:
    """Compare a claimed gradient of f at x with the numerical one.

    Args:
        f, x, eps: as in numerical_gradient (use that function, with this eps).
        grad: the gradient to check, same shape as x.
        tol: the largest relative error that still counts as agreement.

    Returns:
        (ok, error): error is relative_error(numerical, grad) as a Python float, and ok is a
        Python bool, True exactly when error <= tol.
    """
    # TODO: numerical gradient, relative error, compare with tol.
    raise NotImplementedError("1.5: implement check_gradient")


def f_example(x: Tensor) -> Tensor:
    """The example function of this lesson (provided): sum of x³ + x·sin(x), a 0-dim tensor."""
    return (x**3).sum() + (x * torch.sin(x)).sum()


def grad_f_example(x: Tensor) -> Tensor:
    """The analytic gradient of f_example at x, derived by hand (no autograd).

    Returns:
        A tensor with x's shape and dtype. Remember the product rule for x·sin(x).
    """
    # TODO: differentiate each term of f_example entry by entry.
    raise NotImplementedError("1.5: implement grad_f_example")
