"""Worker-side helpers for lesson 1.2: run the student's code with autograd switched off."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from torch import Tensor

from loopgrader.probes.guards import no_autograd


def gradients_by_hand(student: ModuleType, X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Any:
    with no_autograd():
        return student.mse_gradients(X, y, w, b)


def fit_by_hand(student: ModuleType, X: Tensor, y: Tensor, lr: float, n_steps: int) -> Any:
    with no_autograd():
        return student.fit(X, y, lr=lr, n_steps=n_steps)


def inputs_after_gradients(student: ModuleType, X: Tensor, y: Tensor, w: Tensor,
                           b: Tensor) -> Any:
    with no_autograd():
        student.mse_gradients(X, y, w, b)
    return X, y, w, b
