"""Grader-side problems for lesson 2.3 (trusted process only; ships with the public graders):
seeded problems, the network's formula, the true loss and gradients (autograd, float64), the
seeded batches the contract asks for, and epoch means. The bug variants and the replay with the
reference's formulas are instructor-only (``twolayer_math``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from loopgrader.checks import GradingFailure

NAMES = ("W1", "b1", "W2", "b2")
Params = dict[str, Tensor]


def flat(params: Params) -> tuple[Tensor, ...]:
    """The four tensors in the order W1, b1, W2, b2 (how probes take them)."""
    return tuple(params[k] for k in NAMES)


def random_params(seed: int, d: int, h: int, o: int,
                  dtype: torch.dtype = torch.float64) -> Params:
    g = torch.Generator().manual_seed(seed)
    return {"W1": torch.randn(d, h, generator=g, dtype=dtype) / math.sqrt(d),
            "b1": 0.3 * torch.randn(h, generator=g, dtype=dtype),
            "W2": torch.randn(h, o, generator=g, dtype=dtype) / math.sqrt(h),
            "b2": 0.3 * torch.randn(o, generator=g, dtype=dtype)}


def make_problem(seed: int, n: int, d: int, h: int, o: int,
                 dtype: torch.dtype = torch.float64) -> tuple[Params, Tensor, Tensor]:
    """Parameters, inputs X [n, d] and targets y [n, o], all from ``seed``."""
    params = random_params(seed, d, h, o, dtype)
    g = torch.Generator().manual_seed(seed + 1000)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randn(n, o, generator=g, dtype=dtype)
    return params, X, y


def forward(params: Params, X: Tensor) -> Tensor:
    return torch.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def mse(params: Params, X: Tensor, y: Tensor) -> float:
    return float(((forward(params, X) - y) ** 2).mean())


def true_grads(params: Params, X: Tensor, y: Tensor) -> Params:
    """dL/dparam for every parameter, by autograd."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    loss = ((forward(leaves, X) - y) ** 2).mean()
    grads = torch.autograd.grad(loss, [leaves[k] for k in NAMES])
    return dict(zip(NAMES, grads, strict=True))


def seeded_batches(n: int, batch_size: int, n_epochs: int, seed: int) -> list[list[list[int]]]:
    """The batches the contract asks for: per epoch, chunks of one seeded generator's randperm."""
    generator = torch.Generator().manual_seed(seed)
    return [[chunk.tolist() for chunk in torch.randperm(n, generator=generator).split(batch_size)]
            for _ in range(n_epochs)]


def weighted_means(losses: Sequence[float], sizes: Sequence[int],
                   n_epochs: int) -> list[float] | None:
    """Per-epoch means of batch losses weighted by batch size (None if not splittable)."""
    if n_epochs <= 0 or len(losses) % n_epochs:
        return None
    k = len(losses) // n_epochs
    out = []
    for e in range(n_epochs):
        ls, ns = losses[e * k:(e + 1) * k], sizes[e * k:(e + 1) * k]
        out.append(sum(a * b for a, b in zip(ls, ns, strict=True)) / max(sum(ns), 1))
    return out


def plain_means(losses: Sequence[float], n_epochs: int) -> list[float] | None:
    if n_epochs <= 0 or len(losses) % n_epochs:
        return None
    k = len(losses) // n_epochs
    return [sum(losses[e * k:(e + 1) * k]) / max(k, 1) for e in range(n_epochs)]


def as_params(got: Any, what: str) -> Params:
    """A dict holding the four parameter tensors (checked by the caller for shapes)."""
    if not isinstance(got, dict):
        raise GradingFailure(f"{what}: expected a dict with the keys W1, b1, W2, b2, got "
                             f"{type(got).__name__}")
    missing = [k for k in NAMES if k not in got]
    if missing:
        raise GradingFailure(f"{what}: the keys {', '.join(missing)} are missing (found "
                             f"{', '.join(sorted(map(str, got))) or 'none'})",
                             hint="use exactly the keys 'W1', 'b1', 'W2', 'b2'")
    return {k: got[k] for k in NAMES}
