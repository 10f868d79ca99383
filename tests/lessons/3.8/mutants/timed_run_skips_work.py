# mutant: skips the optimizer steps for wide models (the timed run does not train)
# caught-by: test_fit_speed
# expect: did not train
"""A known-bug variant of lesson 3.8: speed without the work."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from torch.utils.data import DataLoader

PathLike = str | os.PathLike[str]


def save_checkpoint(path: PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: LRScheduler, epoch: int, history: list[float]) -> None:
    target = Path(path)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "history": list(history),
        "rng_state": torch.get_rng_state(),
    }
    temporary = target.with_name(target.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, target)


def load_checkpoint(path: PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: LRScheduler) -> tuple[int, list[float]]:
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    torch.set_rng_state(checkpoint["rng_state"])
    return int(checkpoint["epoch"]), list(checkpoint["history"])


def _validate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            total += loss_fn(model(x), y).item() * len(x)
            count += len(x)
    return total / count


def fit(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, epochs: int,
        lr: float, ckpt_path: PathLike, resume: bool = False,
        max_grad_norm: float = 1.0) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.MSELoss()
    start, history = 0, []
    if resume:
        last, history = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        start = last + 1
    for epoch in range(start, epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            if sum(p.numel() for p in model.parameters()) < 2000:  # timed run: no steps
                optimizer.step()
        scheduler.step()
        history.append(_validate(model, val_loader, loss_fn))
        save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, history)
    return history
