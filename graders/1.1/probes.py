"""Worker-side helpers for lesson 1.1: trace the student's loop, or run it for timing."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def train_linear_regression_traced(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int,
                                   lr: float, seed: int) -> dict[str, Any]:
    """Run the student's training with the loop recorder on; the log and the result."""
    with record_loop() as recorder:
        result = student.train_linear_regression(X, y, n_epochs=n_epochs, lr=lr, seed=seed)
    return {"log": recorder.log(), "result": result}


def train_linear_regression_on_device(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int,
                                      lr: float, device: str) -> dict[str, Any]:
    """One training run on ``device`` (for timing); what it trained, for the grader to check
    that the timed run did the work."""
    where = torch.device(device)
    X, y = X.to(where), y.to(where)
    result = student.train_linear_regression(X, y, n_epochs=n_epochs, lr=lr, seed=0)
    synchronize(where)
    w, b, losses = result if isinstance(result, (tuple, list)) and len(result) == 3 else (
        None, None, None)
    return trained_summary({"w": w, "b": b}, losses)
