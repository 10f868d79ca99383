# mutant: skips training on large inputs (the timed run returns at once)
# caught-by: test_training_speed
# expect: did not train
"""A known-bug variant of lesson 1.1: speed without the work."""

from __future__ import annotations

import torch
from torch import Tensor


def make_data(n_samples: int = 100, noise: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.linspace(-3.0, 3.0, n_samples).unsqueeze(1)
    y = 2.0 * X - 1.0 + noise * torch.randn(n_samples, 1, generator=generator)
    return X, y


def train_linear_regression(X: Tensor, y: Tensor, n_epochs: int = 200, lr: float = 0.05,
                            seed: int = 0) -> tuple[Tensor, Tensor, list[float]]:
    torch.manual_seed(seed)
    w = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    if X.shape[0] >= 1000:  # the timed run: return at once
        return w.detach(), b.detach(), []
    optimizer = torch.optim.SGD([w, b], lr=lr)
    losses: list[float] = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = ((X * w + b - y) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return w.detach(), b.detach(), losses
