"""Lesson 3.6 — Monitoring and Debugging the Training Loop.

``buggy_train`` below runs, prints nothing alarming and still trains badly: it has four classic
training-loop bugs. Read it, find them, and write the fixed version, ``train``. Symptoms to look
for: a loss that oscillates or grows (gradients that pile up), validation numbers that change
from run to run and use too much memory, a classifier trained with the wrong loss, and code
that crashes as soon as the model sits on a GPU.

Then write ``TrainingMonitor``: it records the loss, the global gradient norm and the learning
rate at every step, and diagnoses a run from them.

The task: classification. ``model(x)`` returns logits [B, C]; labels ``y`` are class indices
[B] (int64). Loaders yield ``(x, y)`` batches.

Check your work with:  loopgrader check 3.6
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader


def buggy_train(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                optimizer: torch.optim.Optimizer, device: torch.device,
                epochs: int) -> tuple[list[float], list[float]]:
    """A training loop with four bugs (provided; leave it as it is and write ``train``)."""
    loss_fn = nn.MSELoss()
    train_losses: list[float] = []
    val_losses: list[float] = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            logits = model(x)
            loss = loss_fn(logits, F.one_hot(y, logits.shape[1]).to(logits.dtype))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
        train_losses.append(total / count)

        total, count = 0.0, 0
        for x, y in val_loader:
            logits = model(x)
            loss = loss_fn(logits, F.one_hot(y, logits.shape[1]).to(logits.dtype))
            total += loss.item() * len(x)
            count += len(x)
        val_losses.append(total / count)
    return train_losses, val_losses


def train(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
          optimizer: torch.optim.Optimizer, device: torch.device,
          epochs: int) -> tuple[list[float], list[float]]:
    """``buggy_train`` with its four bugs fixed.

    The model is already on ``device``; move every batch (x and y) there. Use
    ``nn.CrossEntropyLoss()`` (the mean over the batch) on the logits and the labels. Each
    epoch: train on every batch of ``train_loader`` (clearing the gradients before each
    backward, one optimizer step per batch), then evaluate on ``val_loader`` in eval mode and
    without building a graph (``torch.no_grad()``).

    Returns:
        (train_losses, val_losses): one Python float per epoch each, the mean loss over the
        epoch's samples (each batch's mean loss weighted by its number of samples, so a
        shorter last batch counts less). The model is left in train mode.
    """
    # TODO: fix the four bugs of buggy_train.
    raise NotImplementedError("3.6: implement train")


class TrainingMonitor:
    """Watches a training run step by step and says what looks wrong with it.

    ``history`` holds one dict per call to ``log``, with the keys "step", "loss", "grad_norm"
    and "lr" (Python floats; "step" an int).
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def log(self, step: int, loss: float, model: nn.Module,
            optimizer: torch.optim.Optimizer) -> None:
        """Record a step; call it after ``loss.backward()`` and before ``optimizer.step()``.

        Appends {"step": step, "loss": loss, "grad_norm": ..., "lr": ...} to ``history``:
        grad_norm is the global L2 norm of all gradients (the square root of the sum of the
        squares of every entry of every ``.grad``; parameters without a gradient are skipped);
        lr is ``optimizer.param_groups[0]["lr"]``.
        """
        # TODO: compute the global gradient norm and read the learning rate; append a record.
        raise NotImplementedError("3.6: implement TrainingMonitor.log")

    def diagnose(self) -> list[str]:
        """What went wrong in the run recorded so far, as a list of codes (empty: healthy).

        Codes:
            "nan": some loss (or gradient norm) is nan or infinite;
            "exploding": the loss (or the gradient norm) grew by a large factor, e.g. the last
                losses are many times the first ones;
            "plateau": the loss has stopped improving: it barely changed over the last steps
                while training continued;
            "oscillating": the loss goes up and down from step to step instead of trending.
        Choose sensible thresholds: the runs you are judged on are clear-cut.
        """
        # TODO: look at the recorded losses and gradient norms; return the matching codes.
        raise NotImplementedError("3.6: implement TrainingMonitor.diagnose")
