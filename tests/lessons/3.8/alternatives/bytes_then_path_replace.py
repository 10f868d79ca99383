"""Correct, written differently: serialised to memory first, written next to the target and
moved with Path.replace; p.grad = None; a parameter list for clipping; for-range epochs."""

import io
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(path, model, optimizer, scheduler, epoch, history):
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch,
                "history": list(history), "rng_state": torch.get_rng_state().clone()}, buffer)
    target = Path(path)
    partial = target.parent / f".{target.name}.writing"
    partial.write_bytes(buffer.getvalue())
    partial.replace(target)


def load_checkpoint(path, model, optimizer, scheduler):
    data = torch.load(str(path), weights_only=True)
    torch.set_rng_state(data["rng_state"])
    scheduler.load_state_dict(data["scheduler"])
    optimizer.load_state_dict(data["optimizer"])
    model.load_state_dict(data["model"])
    return data["epoch"], list(data["history"])


def _evaluate(model, loader, criterion):
    model.eval()
    weighted, seen = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            weighted += float(criterion(model(xb), yb)) * xb.shape[0]
            seen += xb.shape[0]
    return weighted / seen


def fit(model, train_loader, val_loader, epochs, lr, ckpt_path, resume=False,
        max_grad_norm=1.0):
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=0.0)
    criterion = nn.MSELoss()
    first_epoch, losses = 0, []
    if resume:
        done, losses = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        first_epoch = done + 1
    for epoch in range(first_epoch, epochs):
        model.train()
        for xb, yb in train_loader:
            for p in params:
                p.grad = None
            loss = criterion(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
        scheduler.step()
        losses.append(_evaluate(model, val_loader, criterion))
        save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, losses)
    return losses
