"""Correct, written differently: schedules computed with loops (repeated multiplication, the
cosine recurrence CosineAnnealingLR uses), training with SequentialLR(LinearLR, CosineAnnealingLR)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    lr = base_lr
    for s in range(1, step + 1):
        if s % step_size == 0:
            lr *= gamma
    return lr


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    lr = base_lr
    for s in range(1, min(step, total_steps) + 1):
        lr = min_lr + (lr - min_lr) * (1 + math.cos(math.pi * s / total_steps)) / (
            1 + math.cos(math.pi * (s - 1) / total_steps))
    return lr if step < total_steps else min_lr


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                  min_lr: float = 0.0) -> float:
    if step < warmup_steps:
        lr = 0.0
        for _ in range(step + 1):
            lr += base_lr / warmup_steps
        return lr
    return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


def train_with_schedule(model, X, y, n_epochs, base_lr, warmup_epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr)
    warm = LinearLR(optimizer, start_factor=1 / warmup_epochs, end_factor=1.0,
                    total_iters=warmup_epochs - 1)
    decay = CosineAnnealingLR(optimizer, T_max=n_epochs - warmup_epochs)
    scheduler = SequentialLR(optimizer, [warm, decay], milestones=[warmup_epochs])
    criterion = nn.MSELoss()
    history = []
    for _ in range(n_epochs):
        history.append(float(scheduler.get_last_lr()[0]))
        optimizer.zero_grad(set_to_none=False)
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return history
