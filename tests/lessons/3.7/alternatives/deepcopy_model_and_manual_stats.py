"""Correct, written differently: keeps a deep copy of the whole model, statistics by hand,
running buffers replaced by assignment under no_grad, torch.normal for the noise."""

import copy

import torch
import torch.nn as nn


class EarlyStopping:
    def __init__(self, patience: int, min_delta: float = 0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best = None
        self.wait = 0
        self.best_model = None

    def step(self, val_loss: float, model: nn.Module) -> bool:
        improved = self.best is None or val_loss < self.best - self.min_delta
        if improved:
            self.best = val_loss
            self.wait = 0
            self.best_model = copy.deepcopy(model)
        else:
            self.wait = self.wait + 1
        return not improved and self.wait >= self.patience

    def restore(self, model: nn.Module) -> None:
        model.load_state_dict(self.best_model.state_dict())


class BatchNorm1d(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            n = x.shape[0]
            mu = x.sum(dim=0) / n
            centered = x - mu
            sq = (centered ** 2).sum(dim=0)
            var = sq / n
            with torch.no_grad():
                m = self.momentum
                self.running_mean = (1 - m) * self.running_mean + m * mu
                self.running_var = (1 - m) * self.running_var + m * sq / (n - 1)
            return centered / (var + self.eps).sqrt() * self.weight + self.bias
        centered = x - self.running_mean
        return centered / (self.running_var + self.eps).sqrt() * self.weight + self.bias


def augment(x: torch.Tensor, noise_std: float, generator: torch.Generator) -> torch.Tensor:
    noise = torch.normal(0.0, noise_std, size=tuple(x.shape), generator=generator,
                         dtype=x.dtype, device=x.device)
    return x + noise
