"""Correct, written differently: the cosine schedule as a LambdaLR, os.rename for the atomic
swap, a training-epoch helper, the epoch loop driven by a list of remaining epochs."""

import math
import os

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def save_checkpoint(path, model, optimizer, scheduler, epoch, history):
    path = os.fspath(path)
    tmp = path + ".incomplete"
    torch.save({"epoch": epoch, "history": history, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng_state": torch.random.get_rng_state()}, tmp)
    os.rename(tmp, path)


def load_checkpoint(path, model, optimizer, scheduler):
    ckpt = torch.load(os.fspath(path), weights_only=True)
    for obj, key in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
        obj.load_state_dict(ckpt[key])
    torch.random.set_rng_state(ckpt["rng_state"])
    return ckpt["epoch"], ckpt["history"]


def _train_epoch(model, loader, optimizer, loss_fn, max_grad_norm):
    model.train()
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()


def fit(model, train_loader, val_loader, epochs, lr, ckpt_path, resume=False,
        max_grad_norm=1.0):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = LambdaLR(optimizer, lambda e: 0.5 * (1.0 + math.cos(math.pi * e / epochs)))
    loss_fn = nn.MSELoss()
    history = []
    remaining = list(range(epochs))
    if resume:
        last, history = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        remaining = remaining[last + 1:]
    for epoch in remaining:
        _train_epoch(model, train_loader, optimizer, loss_fn, max_grad_norm)
        scheduler.step()
        model.eval()
        with torch.no_grad():
            pairs = [(loss_fn(model(x), y).item(), len(x)) for x, y in val_loader]
        history.append(sum(v * n for v, n in pairs) / sum(n for _, n in pairs))
        save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, history)
    return history
