"""Correct, written differently: var(unbiased=False), Linear layers registered in the opposite
order to their use, F.relu, norms and clipping with Python sums of squares."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def grad_norms(model: nn.Module) -> dict[str, float]:
    return {n: math.sqrt(float((p.grad.double() ** 2).sum()))
            for n, p in model.named_parameters() if p.grad is not None}


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_parameter("weight", nn.Parameter(torch.ones(normalized_shape)))
        self.register_parameter("bias", nn.Parameter(torch.zeros(normalized_shape)))

    def forward(self, x):
        mu = x.mean(dim=x.dim() - 1, keepdim=True)
        sigma = (x.var(dim=-1, keepdim=True, unbiased=False) + self.eps).sqrt()
        return (x - mu) / sigma * self.weight + self.bias


class ResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_proj = nn.Linear(dim, dim)
        self.in_proj = nn.Linear(dim, dim)
        self.pre_norm = LayerNorm(dim)

    def forward(self, x):
        y = self.in_proj(self.pre_norm(x))
        y = self.out_proj(F.relu(y))
        return y + x


def clip_grad_norm(parameters, max_norm: float) -> float:
    with_grad = [p for p in parameters if p.grad is not None]
    squares = 0.0
    for p in with_grad:
        squares += float(p.grad.pow(2).sum())
    total = squares ** 0.5
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in with_grad:
            p.grad.detach().mul_(coef)
    return total
