# mutant: sigmoid as exp(x) / (1 + exp(x)): inf / inf = nan for large x
# caught-by: test_stable_for_large_inputs
# expect: nan or inf
"""A known-bug variant of lesson 2.4."""

from __future__ import annotations

import torch
from torch import Tensor


def relu(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: Tensor) -> Tensor:
    return (x > 0).to(x.dtype)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return torch.where(x > 0, x, x * negative_slope)


def leaky_relu_grad(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    # exp(-|x|) never overflows: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) for x < 0.
    e = torch.exp(x)
    return e / (1 + e)


def sigmoid_grad(x: Tensor) -> Tensor:
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: Tensor) -> Tensor:
    # tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}); e^{-2|x|} <= 1 cannot overflow,
    # and expm1 keeps 1 - e^{-2|x|} accurate for tiny x.
    m = -2 * x.abs()
    return torch.sign(x) * -torch.expm1(m) / (1 + torch.exp(m))


def tanh_grad(x: Tensor) -> Tensor:
    return 1 - tanh(x) ** 2


def dead_relu_fraction(pre_activations: Tensor) -> float:
    dead = (pre_activations <= 0).all(dim=0)
    return dead.to(torch.float64).mean().item()
