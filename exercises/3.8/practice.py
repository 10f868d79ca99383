"""Lesson 3.8 — The Training Loop in Practice: Case Studies.

A training loop as it runs in practice: AdamW with weight decay, a cosine learning-rate
schedule, gradient clipping, validation after every epoch, and a checkpoint at the end of every
epoch from which an interrupted run can resume exactly where it stopped — same parameters,
same optimizer state, same learning rate, same random numbers.

The task here is regression: loaders yield ``(x, y)`` float batches and the loss is
``nn.MSELoss()`` (the mean over the batch).

Check your work with:  loopgrader check 3.8
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from torch.utils.data import DataLoader

PathLike = str | os.PathLike[str]


def save_checkpoint(path: PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: LRScheduler, epoch: int, history: list[float]) -> None:
    """Save everything needed to resume training, atomically.

    The file holds one dict with the keys:
        "model", "optimizer", "scheduler": the three ``state_dict()``s;
        "epoch": ``epoch`` (the index, from 0, of the epoch just completed);
        "history": ``history`` (the validation losses so far, a list of floats);
        "rng_state": ``torch.get_rng_state()`` (torch's global random state, for dropout).

    Atomic: write to a temporary file in the same folder as ``path``, then replace ``path``
    with it (``os.replace``). A crash in the middle of writing then leaves the previous
    checkpoint at ``path`` intact.
    """
    # TODO: build the dict, torch.save it to a temporary file next to path, os.replace.
    raise NotImplementedError("3.8: implement save_checkpoint")


def load_checkpoint(path: PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: LRScheduler) -> tuple[int, list[float]]:
    """Restore a checkpoint written by ``save_checkpoint`` into the given objects.

    Load the file with ``torch.load(path, weights_only=True)`` (which refuses to run code
    hidden in a file), then load the three state dicts and restore torch's global random
    state (``torch.set_rng_state``).

    Returns:
        (epoch, history) as saved.
    """
    # TODO: torch.load with weights_only=True, then restore each part.
    raise NotImplementedError("3.8: implement load_checkpoint")


def fit(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, epochs: int,
        lr: float, ckpt_path: PathLike, resume: bool = False,
        max_grad_norm: float = 1.0) -> list[float]:
    """Train for ``epochs`` epochs with checkpoints; optionally resume from ``ckpt_path``.

    Setup: ``torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)``,
    ``CosineAnnealingLR(optimizer, T_max=epochs)``, ``nn.MSELoss()``. With ``resume=True``,
    load the checkpoint into them and continue with the epoch after the saved one; otherwise
    start at epoch 0 with an empty history.

    Each epoch:
      1. train mode; for every batch: clear the gradients, forward, loss, backward, clip the
         gradients (``torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)``),
         optimizer step;
      2. step the scheduler once;
      3. validation in eval mode under ``torch.no_grad()``: the mean loss over the validation
         samples (batch losses weighted by batch size), appended to the history;
      4. ``save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, history)``.

    Returns:
        The history: the validation loss of every epoch so far (with ``resume=True``, the saved
        ones followed by the new ones), ``len == epochs`` at the end.
    """
    # TODO: setup (and resume), then the epoch loop above.
    raise NotImplementedError("3.8: implement fit")
