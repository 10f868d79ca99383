"""Correct, written differently: one flat all-reduce buffer, gradients divided by N at the end,
torch.split, zero_grad(set_to_none=True), torch.amp.autocast, float(loss.detach())."""

import torch
import torch.distributed as dist
from torch import nn


def autocast_dtype(device):
    return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16


def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    elif torch.backends.mps.is_available() and torch.backends.mps.is_built():
        return torch.device("mps")
    else:
        return torch.device("cpu")


def accumulate_gradients(model, loss_fn, X, y, micro_batch_size):
    model.zero_grad(set_to_none=True)
    total = len(X)
    for xb, yb in zip(torch.split(X, micro_batch_size), torch.split(y, micro_batch_size)):
        # the micro-batch's summed loss; divided by the total once at the end
        (loss_fn(model(xb), yb) * len(xb)).backward()
    for p in model.parameters():
        if p.grad is not None:
            p.grad /= total


def average_gradients(model):
    params = [p for p in model.parameters() if p.grad is not None]
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def train_step_amp(model, optimizer, loss_fn, x, y, device, scaler=None):
    optimizer.zero_grad(set_to_none=True)
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    with torch.amp.autocast(device_type=device.type, dtype=autocast_dtype(device)):
        output = model(x)
        loss = loss_fn(output, y)
    if scaler:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return float(loss.detach())
