"""Worker-side helpers for lesson 1.1: trace the student's loop, or run it for timing."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from loopgrader.probes.devices import synchronize
from loopgrader.probes.trace import record_loop


def train_linear_regression_traced(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int,
                                   lr: float, seed: int) -> dict[str, Any]:
    """Run the student's training with the loop recorder on; the log and the result."""
    with record_loop() as recorder:
        result = student.train_linear_regression(X, y, n_epochs=n_epochs, lr=lr, seed=seed)
    return {"log": recorder.log(), "result": result}


def train_linear_regression_on_device(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int,
                                      lr: float, device: str) -> None:
    """One training run on ``device`` (for timing); returns nothing, correctness is judged
    elsewhere."""
    where = torch.device(device)
    X, y = X.to(where), y.to(where)
    student.train_linear_regression(X, y, n_epochs=n_epochs, lr=lr, seed=0)
    synchronize(where)
