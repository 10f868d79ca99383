"""Worker-side helpers for lesson 1.3: run iterate_minibatches with a generator made here,
trace train() and note which inputs each forward pass received, or time train() on a device."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def minibatch_passes(student: ModuleType, X: Tensor, y: Tensor, batch_size: int, shuffle: bool,
                     seed: int, n_passes: int) -> list[Any]:
    """``n_passes`` calls of iterate_minibatches sharing ONE generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return [list(student.iterate_minibatches(X, y, batch_size, shuffle=shuffle,
                                             generator=generator))
            for _ in range(n_passes)]


def minibatches_global_rng(student: ModuleType, X: Tensor, y: Tensor, batch_size: int,
                           seed: int) -> list[Any]:
    """One pass with the defaults (shuffle=True, generator=None) after torch.manual_seed."""
    torch.manual_seed(seed)
    return list(student.iterate_minibatches(X, y, batch_size))


def train_traced(student: ModuleType, X: Tensor, y: Tensor, batch_size: int, n_epochs: int,
                 lr: float, shuffle: bool, seed: int) -> dict[str, Any]:
    """train() under the loop recorder, with the input of every top-level forward pass of a
    module that has parameters (the model, not the loss) and the recorder's sequence number of
    that forward event."""
    inputs: list[tuple[int, Tensor]] = []
    depth = [0]
    with record_loop() as recorder:
        def pre(module: torch.nn.Module, args: Any) -> None:
            if depth[0] == 0 and args and isinstance(args[0], Tensor) and \
                    torch.is_grad_enabled() and _has_parameters(module):
                inputs.append((len(recorder.events) - 1, args[0].detach().clone()))
            depth[0] += 1

        def post(module: torch.nn.Module, args: Any, output: Any) -> None:
            depth[0] = max(0, depth[0] - 1)

        handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
        try:
            result = student.train(X, y, batch_size, n_epochs, lr, shuffle=shuffle, seed=seed)
        finally:
            for handle in handles:
                handle.remove()
    return {"log": recorder.log(), "result": result, "inputs": inputs}


def _has_parameters(module: torch.nn.Module) -> bool:
    return next(iter(module.parameters()), None) is not None


def train_on_device(student: ModuleType, X: Tensor, y: Tensor, batch_size: int, n_epochs: int,
                    lr: float, device: str) -> dict[str, Any]:
    """One training run on ``device`` (for timing); what it trained, for the grader to check."""
    where = torch.device(device)
    result = student.train(X.to(where), y.to(where), batch_size, n_epochs, lr, shuffle=True,
                           seed=0)
    synchronize(where)
    model, losses = result if isinstance(result, (tuple, list)) and len(result) == 2 else (
        None, None)
    return trained_summary(model if isinstance(model, nn.Module) else {}, losses)
