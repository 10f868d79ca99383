# mutant: skips the step on large batches (the timed steps do not train)
# caught-by: test_amp_throughput
# expect: did not train
"""A known-bug variant of lesson 3.5: speed without the work."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def autocast_dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16


def get_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def accumulate_gradients(model: nn.Module, loss_fn: nn.Module, X: Tensor, y: Tensor,
                         micro_batch_size: int) -> None:
    if micro_batch_size < 1:
        raise ValueError("micro_batch_size must be at least 1")
    for param in model.parameters():
        param.grad = None
    n = X.shape[0]
    for start in range(0, n, micro_batch_size):
        xb, yb = X[start:start + micro_batch_size], y[start:start + micro_batch_size]
        loss = loss_fn(model(xb), yb) * (xb.shape[0] / n)
        loss.backward()


def average_gradients(model: nn.Module) -> None:
    world_size = dist.get_world_size()
    for param in model.parameters():
        if param.grad is not None:
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
            param.grad.div_(world_size)


def train_step_amp(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                   x: Tensor, y: Tensor, device: torch.device,
                   scaler: torch.amp.GradScaler | None = None) -> float:
    x, y = x.to(device), y.to(device)
    if x.shape[0] >= 200:  # the timed steps: no work
        return 0.0
    optimizer.zero_grad()
    with torch.autocast(device_type=device.type, dtype=autocast_dtype(device)):
        loss = loss_fn(model(x), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.item()
