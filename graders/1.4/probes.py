"""Worker-side helpers for lesson 1.4: inputs after a call, the surface timed on a device, and
the path traced."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def inputs_after_surface(student: ModuleType, X: Tensor, y: Tensor, w_values: Tensor,
                         b_values: Tensor) -> Any:
    """The four inputs as they are after loss_surface ran on them."""
    student.loss_surface(X, y, w_values, b_values)
    return X, y, w_values, b_values


def surface_on_device(student: ModuleType, X: Tensor, y: Tensor, w_values: Tensor,
                      b_values: Tensor, device: str) -> dict[str, Any]:
    """One loss_surface call on ``device`` (for timing); a sample of the surface it computed,
    for the grader to check that the timed call did the work."""
    where = torch.device(device)
    surface = student.loss_surface(X.to(where), y.to(where), w_values.to(where),
                                   b_values.to(where))
    synchronize(where)
    return trained_summary({"surface": surface if isinstance(surface, Tensor) else None})


def path_traced(student: ModuleType, X: Tensor, y: Tensor, w0: float, b0: float, lr: float,
                n_steps: int) -> dict[str, Any]:
    """gradient_descent_path under the loop recorder (it sees backward() if autograd is used)."""
    with record_loop() as recorder:
        path = student.gradient_descent_path(X, y, w0, b0, lr, n_steps)
    return {"log": recorder.log(), "path": path}
