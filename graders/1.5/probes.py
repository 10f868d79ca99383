"""Worker-side helpers for lesson 1.5: the functions whose gradients the student's code estimates.

Callables cannot cross between the grader and the worker, so the test functions live here and
are built from plain-data parameters; the graders load this same file to compute the true
gradients of the same functions with autograd.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

Params = dict[str, Tensor]


def _coupled_cosine(p: Params) -> Callable[[Tensor], Tensor]:
    """cos(A v).sum() + (v ** 2).sum(): every entry interacts with every other one."""
    def f(x: Tensor) -> Tensor:
        v = x.reshape(-1)
        return torch.cos(p["A"].to(v.dtype) @ v).sum() + (v**2).sum()
    return f


def _cubic(p: Params) -> Callable[[Tensor], Tensor]:
    """(x ** 3).sum(): its central difference is exactly 3x² + eps², whatever eps."""
    def f(x: Tensor) -> Tensor:
        return (x**3).sum()
    return f


def _quadratic(p: Params) -> Callable[[Tensor], Tensor]:
    """½ vᵀQv + c·v: central differences are exact on it, up to rounding."""
    def f(x: Tensor) -> Tensor:
        v = x.reshape(-1)
        return 0.5 * (v @ (p["Q"].to(v.dtype) @ v)) + p["c"].to(v.dtype) @ v
    return f


def _quadratic_sine(p: Params) -> Callable[[Tensor], Tensor]:
    """½ vᵀQv + c·v + sin(v).sum(): coupled and curved, for x of any shape."""
    def f(x: Tensor) -> Tensor:
        return _quadratic(p)(x) + torch.sin(x).sum()
    return f


FUNCTIONS: dict[str, Callable[[Params], Callable[[Tensor], Tensor]]] = {
    "coupled_cosine": _coupled_cosine,
    "cubic": _cubic,
    "quadratic": _quadratic,
    "quadratic_sine": _quadratic_sine,
}


def make_function(name: str, params: Params) -> Callable[[Tensor], Tensor]:
    return FUNCTIONS[name](params)


def numerical(student: ModuleType, name: str, x: Tensor, params: Params,
              eps: float | None = None) -> Any:
    f = make_function(name, params)
    if eps is None:
        return student.numerical_gradient(f, x)
    return student.numerical_gradient(f, x, eps=eps)


def x_after_numerical(student: ModuleType, name: str, x: Tensor, params: Params) -> Any:
    student.numerical_gradient(make_function(name, params), x)
    return x


def check(student: ModuleType, name: str, x: Tensor, params: Params, grad: Tensor,
          eps: float | None = None, tol: float | None = None) -> Any:
    f = make_function(name, params)
    options: dict[str, float] = {}
    if eps is not None:
        options["eps"] = eps
    if tol is not None:
        options["tol"] = tol
    return student.check_gradient(f, x, grad, **options)
