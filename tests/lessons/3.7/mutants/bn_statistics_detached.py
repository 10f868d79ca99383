# mutant: batch mean and variance detached before normalising
# caught-by: test_batchnorm_gradients_match_torch
# expect: detached
"""A known-bug variant of lesson 3.7."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn


class EarlyStopping:
    """Stop when the validation loss has not improved by more than min_delta for patience epochs."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.count = 0
        self.best_state: dict[str, Any] | None = None

    def step(self, val_loss: float, model: nn.Module) -> bool:
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
            self.count = 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.count += 1
        return self.count >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no epoch has been recorded yet")
        model.load_state_dict(self.best_state)


class BatchNorm1d(nn.Module):
    """Batch normalisation over dim 0 of [N, C] inputs, as torch.nn.BatchNorm1d."""

    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            mean = x.mean(dim=0).detach()
            var = x.var(dim=0, unbiased=False).detach()
            with torch.no_grad():
                n = x.shape[0]
                unbiased = var * n / max(n - 1, 1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def augment(x: Tensor, noise_std: float, generator: torch.Generator) -> Tensor:
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + noise_std * noise
