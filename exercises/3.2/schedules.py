"""Lesson 3.2 — Learning Rate Scheduling.

A schedule is a function from the step (or epoch) number to a learning rate. You will write three
of them as plain functions of the step, check them against torch's schedulers, and then use the
warmup + cosine schedule in a training loop.

Steps count from 0: ``f(0, ...)`` is the rate of the very first update, as
``scheduler.get_last_lr()`` before any ``scheduler.step()``.

Check your work with:  loopgrader check 3.2
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    """Step decay, as ``torch.optim.lr_scheduler.StepLR``: multiply by gamma every step_size steps.

    Returns:
        ``base_lr * gamma ** (step // step_size)`` as a Python float.
    """
    # TODO: one line.
    raise NotImplementedError("3.2: implement step_decay")


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Cosine annealing from base_lr (step 0) down to min_lr (step total_steps).

    As ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)`` for
    ``step <= total_steps``:
        ``min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2``
    and ``min_lr`` for every step after total_steps (torch's scheduler would rise again there;
    this one stays at the bottom).
    """
    # TODO: the formula above, and min_lr once step is past total_steps.
    raise NotImplementedError("3.2: implement cosine_annealing")


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                  min_lr: float = 0.0) -> float:
    """Linear warmup for warmup_steps steps, then cosine annealing until total_steps.

    While ``step < warmup_steps`` the rate rises linearly and reaches base_lr at the last
    warmup step: ``base_lr * (step + 1) / warmup_steps`` (so the first update does not use 0).
    Afterwards: ``cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps,
    min_lr)``. With ``warmup_steps = 0`` this is plain cosine annealing.
    """
    # TODO: two cases; reuse cosine_annealing for the second.
    raise NotImplementedError("3.2: implement warmup_cosine")


def train_with_schedule(model: nn.Module, X: Tensor, y: Tensor, n_epochs: int, base_lr: float,
                        warmup_epochs: int) -> list[float]:
    """Full-batch training with ``torch.optim.SGD`` on the MSE loss, warmup + cosine schedule.

    One update per epoch. The learning rate of epoch e (0-based) is
    ``warmup_cosine(e, base_lr, warmup_epochs, n_epochs)``. The usual way: create the optimizer
    with ``lr=base_lr`` and a ``torch.optim.lr_scheduler.LambdaLR`` whose factor for epoch e is
    ``warmup_cosine(e, ...) / base_lr``; call ``scheduler.step()`` once per epoch, after
    ``optimizer.step()``.

    Args:
        model: any module mapping X to predictions shaped like y; trained in place.
        X, y: the whole training set (inputs and targets), on the model's device.

    Returns:
        The learning rate used by each epoch's update, ``len == n_epochs`` (Python floats).
    """
    # TODO: optimizer, scheduler, loss; each epoch: record the lr, zero_grad, forward, loss,
    # backward, optimizer.step(), scheduler.step().
    raise NotImplementedError("3.2: implement train_with_schedule")
