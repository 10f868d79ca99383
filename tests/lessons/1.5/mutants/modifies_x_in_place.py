# mutant: perturbs x itself and never restores the entry
# caught-by: test_numerical_gradient_leaves_x_unchanged
# expect: exactly as it was
"""A known-bug variant of lesson 1.5."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def numerical_gradient(f: Callable[[Tensor], Tensor], x: Tensor, eps: float = 1e-6) -> Tensor:
    point = x
    grad = torch.zeros_like(point)
    flat, out = point.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        saved = flat[i].item()
        flat[i] = saved + eps
        up = float(f(point))
        flat[i] = saved - eps
        down = float(f(point))
        out[i] = (up - down) / (2 * eps)
    return grad.reshape(x.shape)


def relative_error(a: Tensor, b: Tensor) -> float:
    scale = (a.abs() + b.abs()).clamp_min(1e-12)
    return float(((a - b).abs() / scale).max())


def check_gradient(f: Callable[[Tensor], Tensor], x: Tensor, grad: Tensor, eps: float = 1e-6,
                   tol: float = 1e-6) -> tuple[bool, float]:
    error = relative_error(numerical_gradient(f, x, eps), grad)
    return error <= tol, error


def f_example(x: Tensor) -> Tensor:
    return (x**3).sum() + (x * torch.sin(x)).sum()


def grad_f_example(x: Tensor) -> Tensor:
    return 3 * x**2 + torch.sin(x) + x * torch.cos(x)
