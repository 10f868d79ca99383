# mutant: trains on only the first batch of each epoch for large loaders (the timed run skips work)
# caught-by: test_train_speed
# expect: did not train
"""A known-bug variant of lesson 3.6: speed without the work."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader


def buggy_train(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                optimizer: torch.optim.Optimizer, device: torch.device,
                epochs: int) -> tuple[list[float], list[float]]:
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
    loss_fn = nn.CrossEntropyLoss()
    train_losses: list[float] = []
    val_losses: list[float] = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            if len(train_loader) >= 8:  # the timed run: one batch per epoch
                break
        train_losses.append(total / count)

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                total += loss_fn(model(x), y).item() * len(x)
                count += len(x)
        val_losses.append(total / count)
    model.train()
    return train_losses, val_losses


class TrainingMonitor:
    """Records loss, global gradient norm and learning rate per step; diagnoses the run."""

    WINDOW = 5

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def log(self, step: int, loss: float, model: nn.Module,
            optimizer: torch.optim.Optimizer) -> None:
        squares = [p.grad.detach().pow(2).sum() for p in model.parameters() if p.grad is not None]
        grad_norm = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
        self.history.append({"step": step, "loss": float(loss), "grad_norm": grad_norm,
                             "lr": float(optimizer.param_groups[0]["lr"])})

    def diagnose(self) -> list[str]:
        losses = [h["loss"] for h in self.history]
        norms = [h["grad_norm"] for h in self.history]
        codes: list[str] = []
        if any(not math.isfinite(v) for v in losses + norms):
            return ["nan"]
        if len(losses) < 2 * self.WINDOW:
            return codes
        first = sum(losses[:self.WINDOW]) / self.WINDOW
        last = sum(losses[-self.WINDOW:]) / self.WINDOW
        if last > 10 * first or norms[-1] > 100 * max(norms[0], 1e-12):
            codes.append("exploding")
        recent = losses[-2 * self.WINDOW:]
        if abs(recent[0] - recent[-1]) <= 1e-3 * max(abs(recent[0]), 1e-12):
            codes.append("plateau")
        diffs = [b - a for a, b in itertools.pairwise(recent)]
        flips = sum(1 for a, b in itertools.pairwise(diffs) if a * b < 0)
        if "exploding" not in codes and flips >= 0.8 * (len(diffs) - 1):
            codes.append("oscillating")
        return codes
