"""Grader-side math for lesson 2.3 (trusted process only): seeded problems, the true loss and
gradients (autograd, float64), the known wrong gradients students write, and the replay of a
training run along a list of batches with the reference's formulas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from loopgrader.checks import GradingFailure

# Holds reference-level math (the bug variants of the true gradients): never shipped to
# students; tests importing it run only in instructor grading (see docs/distribution.md).
LOOPGRADER_INSTRUCTOR_ONLY = True

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


NO_TANH = ("the tanh derivative is missing: dL/dz1 = (dL/dh) * (1 - h²), where h = tanh(z1) is "
           "the hidden layer's output")
TANH_ON_Z = ("the tanh derivative was computed from z1 (1 - z1²) instead of from h = tanh(z1) "
             "(1 - h²)")
TANH_TWICE = ("tanh was applied twice in the derivative: use 1 - h² with h = tanh(z1), not "
              "1 - tanh(h)²")
BATCH_ONLY = ("it is out_features times too big: you divided by the batch size N only, but the "
              "MSE is the mean over all N·O entries of the output, so divide by N·O "
              "(diff.numel())")
SUMMED = ("it is N·O times too big: you summed the squared errors where the loss takes their "
          "mean (divide by N·O)")
Z1_FOR_W2 = ("dL/dW2 was computed from the pre-activation z1 instead of the hidden output "
             "h = tanh(z1): dL/dW2 = hᵀ · dL/dout")


def known_bugs(params: Params, X: Tensor, y: Tensor) -> dict[str, Params]:
    """The gradients of the classic wrong derivations, by bug description."""
    p = params
    z1 = X @ p["W1"] + p["b1"]
    h = torch.tanh(z1)
    diff = h @ p["W2"] + p["b2"] - y
    d_out = 2.0 * diff / diff.numel()
    d_h = d_out @ p["W2"].T
    true = true_grads(params, X, y)

    def first_layer(d_z1: Tensor) -> Params:
        return {"W1": X.T @ d_z1, "b1": d_z1.sum(0), "W2": true["W2"], "b2": true["b2"]}

    scale_o = float(diff.shape[1]) if diff.dim() == 2 else 1.0
    return {
        NO_TANH: first_layer(d_h),
        TANH_ON_Z: first_layer(d_h * (1 - z1 * z1)),
        TANH_TWICE: first_layer(d_h * (1 - torch.tanh(h) ** 2)),
        Z1_FOR_W2: {**true, "W2": z1.T @ d_out},
        BATCH_ONLY: {k: v * scale_o for k, v in true.items()},
        SUMMED: {k: v * diff.numel() for k, v in true.items()},
    }


def bugs_for(name: str, params: Params, X: Tensor, y: Tensor) -> dict[str, Tensor]:
    """``known_bugs`` for one parameter (for ``assert_gradient_close``)."""
    true = true_grads(params, X, y)[name]
    return {bug: grads[name] for bug, grads in known_bugs(params, X, y).items()
            if not torch.allclose(grads[name], true)}


def seeded_batches(n: int, batch_size: int, n_epochs: int, seed: int) -> list[list[list[int]]]:
    """The batches the contract asks for: per epoch, chunks of one seeded generator's randperm."""
    generator = torch.Generator().manual_seed(seed)
    return [[chunk.tolist() for chunk in torch.randperm(n, generator=generator).split(batch_size)]
            for _ in range(n_epochs)]


def replay(reference: ModuleType, params: Params, X: Tensor, y: Tensor,
           batches: Sequence[Sequence[int]], lr: float) -> tuple[list[float], Params]:
    """Train the reference net along ``batches`` (one step each): batch losses, final params."""
    p0 = params["W1"]
    net = reference.TwoLayerNet(p0.shape[0], p0.shape[1], params["W2"].shape[1])
    net.params = {k: v.detach().clone() for k, v in params.items()}
    losses: list[float] = []
    for batch in batches:
        index = torch.tensor(list(batch), dtype=torch.long)
        loss, grads = net.loss_and_grads(X[index], y[index])
        net.step(grads, lr)
        losses.append(float(loss))
    return losses, net.params


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
