"""Lesson 3.5 — Large-Scale Training: Data Parallelism and Hardware.

Four tools that let the same training loop run bigger: choosing the best device, gradient
accumulation (a big batch processed in small pieces), data parallelism (each process computes
gradients on its shard of the batch, then all of them average their gradients), and mixed
precision (the forward pass in a 16-bit float type under autocast).

Check your work with:  loopgrader check 3.5
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The low-precision type autocast should use on ``device`` (provided).

    float16 on cuda (and mps), where a GradScaler guards it against underflow; bfloat16 on the
    cpu, whose wider exponent needs no scaler.
    """
    return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16


def get_device() -> torch.device:
    """The best available device: cuda if available, else mps if available, else cpu.

    Returns a ``torch.device`` (not a string). Ask torch at call time
    (``torch.cuda.is_available()``, ``torch.backends.mps.is_available()``).
    """
    # TODO: check cuda first, then mps, then fall back to the cpu.
    raise NotImplementedError("3.5: implement get_device")


def accumulate_gradients(model: nn.Module, loss_fn: nn.Module, X: Tensor, y: Tensor,
                         micro_batch_size: int) -> None:
    """Leave in each ``.grad`` the gradient of ``loss_fn(model(X), y)``, one micro-batch at a time.

    ``loss_fn`` averages over the samples (reduction "mean"). First clear any gradient the
    parameters already hold. Then, for consecutive slices of at most ``micro_batch_size`` rows
    of X and y (the last slice may be smaller), run the model and ``backward()`` on that slice
    only, weighting its loss by its share of the samples (``len(slice) / len(X)``), so that the
    accumulated gradients equal the full-batch gradient. No optimizer step: only ``.grad``
    changes. Returns None.
    """
    # TODO: clear the gradients; loop over the micro-batches; scale each loss; backward.
    raise NotImplementedError("3.5: implement accumulate_gradients")


def average_gradients(model: nn.Module) -> None:
    """Average every parameter's gradient across the processes of the default group.

    Runs in each process of a ``torch.distributed`` group (already initialised), after that
    process's backward on its own shard of the data. Sum each ``.grad`` over all processes with
    ``dist.all_reduce`` (in place), then divide by ``dist.get_world_size()``, so that every
    process ends with the same, averaged gradients. Returns None.
    """
    # TODO: for each parameter with a gradient: all_reduce it, then divide by the world size.
    raise NotImplementedError("3.5: implement average_gradients")


def train_step_amp(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                   x: Tensor, y: Tensor, device: torch.device,
                   scaler: torch.amp.GradScaler | None = None) -> float:
    """One mixed-precision training step on ``device``; returns the loss as a Python float.

    Move x and y to ``device`` (the model already is there), clear the gradients, and run the
    forward pass and the loss under ``torch.autocast(device_type=device.type,
    dtype=autocast_dtype(device))``. The parameters stay float32. Backward and step outside
    autocast:
      - with a ``scaler``: ``scaler.scale(loss).backward()``, ``scaler.step(optimizer)``,
        ``scaler.update()`` (the scaler unscales the gradients before the step);
      - without one (``scaler is None``): ``loss.backward()`` and ``optimizer.step()``.
    """
    # TODO: move the batch, zero_grad, autocast forward + loss, then backward and step.
    raise NotImplementedError("3.5: implement train_step_amp")
