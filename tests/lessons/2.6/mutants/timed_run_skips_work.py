# mutant: returns at once when asked for many epochs (the timed run does not train)
# caught-by: test_train_l2_speed
# expect: did not train
"""A known-bug variant of lesson 2.6: speed without the work."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def l2_penalty(model: nn.Module, include_bias: bool = False) -> Tensor:
    squares = [(p ** 2).sum() for p in model.parameters() if include_bias or p.ndim >= 2]
    if not squares:
        return torch.zeros(())
    return torch.stack(squares).sum()


def train_l2(model: nn.Module, X: Tensor, y: Tensor, lam: float, lr: float,
             n_epochs: int) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    data_losses: list[float] = []
    if n_epochs >= 100:  # the timed run: pretend
        return [0.0] * n_epochs
    for _ in range(n_epochs):
        optimizer.zero_grad()
        data_loss = loss_fn(model(X), y)
        loss = data_loss + lam * l2_penalty(model)
        loss.backward()
        optimizer.step()
        data_losses.append(data_loss.item())
    return data_losses


class Dropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        keep = torch.rand_like(x) >= self.p
        return x * keep / (1.0 - self.p)
