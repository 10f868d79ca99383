# mutant: returns at once on large inputs (the timed run does not train)
# caught-by: test_training_speed
# expect: did not train
"""A known-bug variant of lesson 2.3: speed without the work."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class TwoLayerNet:
    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.params: dict[str, Tensor] = {
            "W1": torch.randn(in_features, hidden_features, generator=g)
            / math.sqrt(in_features),
            "b1": torch.zeros(hidden_features),
            "W2": torch.randn(hidden_features, out_features, generator=g)
            / math.sqrt(hidden_features),
            "b2": torch.zeros(out_features),
        }

    def forward(self, X: Tensor) -> Tensor:
        p = self.params
        return torch.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    def loss_and_grads(self, X: Tensor, y: Tensor) -> tuple[float, dict[str, Tensor]]:
        p = self.params
        h = torch.tanh(X @ p["W1"] + p["b1"])
        out = h @ p["W2"] + p["b2"]
        diff = out - y
        loss = float((diff ** 2).mean())
        d_out = 2.0 * diff / diff.numel()
        d_z1 = (d_out @ p["W2"].T) * (1.0 - h * h)
        grads = {
            "W1": X.T @ d_z1,
            "b1": d_z1.sum(dim=0),
            "W2": h.T @ d_out,
            "b2": d_out.sum(dim=0),
        }
        return loss, grads

    def step(self, grads: dict[str, Tensor], lr: float) -> None:
        for name, param in self.params.items():
            param.sub_(lr * grads[name])


def train(net: TwoLayerNet, X: Tensor, y: Tensor, lr: float = 0.1, n_epochs: int = 200,
          batch_size: int = 32, seed: int = 0) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    if n >= 1000:  # the timed run: no training at all
        return [0.0] * n_epochs
    losses: list[float] = []
    for _ in range(n_epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss, grads = net.loss_and_grads(X[idx], y[idx])
            net.step(grads, lr)
            total += loss * len(idx)
        losses.append(total / n)
    return losses


def make_sine_data(n: int = 200, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.linspace(-math.pi, math.pi, n).unsqueeze(1)
    y = torch.sin(X) + 0.05 * torch.randn(n, 1, generator=g)
    return X, y
