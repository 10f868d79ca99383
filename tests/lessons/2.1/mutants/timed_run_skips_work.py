# mutant: trains a tenth of the epochs when asked for many (fewer steps in the timed run)
# caught-by: test_fit_classifier_speed
# expect: did not train
"""A known-bug variant of lesson 2.1: speed without the work."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid,
                                           "tanh": nn.Tanh}


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{', '.join(ACTIVATIONS)}")
        self.hidden = nn.Linear(in_features, hidden_features)
        self.activation = ACTIVATIONS[activation]()
        self.output = nn.Linear(hidden_features, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.activation(self.hidden(x)))


def make_circles(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    n_outer = n // 2
    radius = torch.cat([torch.ones(n_outer), torch.full((n - n_outer,), 0.5)])
    angle = 2 * math.pi * torch.rand(n, generator=g)
    X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n_outer), torch.ones(n - n_outer)]).unsqueeze(1)
    order = torch.randperm(n, generator=g)
    return X[order], y[order]


def fit_classifier(model: nn.Module, X: Tensor, y: Tensor, n_epochs: int = 300,
                   lr: float = 0.01) -> list[float]:
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses: list[float] = []
    for _ in range(n_epochs // 10 if n_epochs >= 100 else n_epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predictions = (model(X) > 0).to(y.dtype)
    return (predictions == y).to(torch.float64).mean().item()
