# mutant: computes the rates but skips the updates on large inputs (the timed run does not train)
# caught-by: test_train_speed
# expect: did not train
"""A known-bug variant of lesson 3.2: speed without the work."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    return base_lr * gamma ** (step // step_size)


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    if step >= total_steps:
        return min_lr
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                  min_lr: float = 0.0) -> float:
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


def train_with_schedule(model: nn.Module, X: Tensor, y: Tensor, n_epochs: int, base_lr: float,
                        warmup_epochs: int) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr)
    scheduler = LambdaLR(
        optimizer, lambda e: warmup_cosine(e, base_lr, warmup_epochs, n_epochs) / base_lr)
    loss_fn = nn.MSELoss()
    lrs: list[float] = []
    for _ in range(n_epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        if X.shape[0] < 1000:  # the timed run skips the training itself
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
        scheduler.step()
    return lrs
