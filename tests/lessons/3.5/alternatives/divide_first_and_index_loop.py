"""Correct, written differently: a one-line device choice, index arithmetic for the micro-batches,
gradients divided before the all-reduce, p.grad = None and a scaler-less branch first."""

import math

import torch
import torch.distributed as dist
import torch.nn as nn


def autocast_dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16


def get_device() -> torch.device:
    name = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    return torch.device(name)


def accumulate_gradients(model, loss_fn, X, y, micro_batch_size):
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
    n = X.size(0)
    steps = math.ceil(n / micro_batch_size)
    for i in range(steps):
        lo = i * micro_batch_size
        hi = min(n, lo + micro_batch_size)
        out = model(X[lo:hi])
        loss_fn(out, y[lo:hi]).mul((hi - lo) / n).backward()


def average_gradients(model):
    size = float(dist.get_world_size())
    for p in model.parameters():
        if p.grad is None:
            continue
        p.grad.data /= size
        dist.all_reduce(p.grad.data, op=dist.ReduceOp.SUM)


def train_step_amp(model, optimizer, loss_fn, x, y, device, scaler=None):
    x, y = x.to(device), y.to(device)
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
    with torch.autocast(device.type, dtype=autocast_dtype(device)):
        loss = loss_fn(model(x), y)
    if scaler is None:
        loss.backward()
        optimizer.step()
        return loss.item()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()
