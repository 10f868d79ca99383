"""Worker-side helpers for lesson 3.2: schedule values in bulk, and traced or timed training."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def schedule_values(student: ModuleType, name: str, steps: list[int],
                    args: list[Any]) -> list[Any]:
    """``[name(step, *args) for step in steps]``, one call each."""
    function = getattr(student, name)
    return [function(step, *args) for step in steps]


def make_model(in_features: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def train_traced(student: ModuleType, state: dict[str, Tensor], X: Tensor, y: Tensor,
                 n_epochs: int, base_lr: float, warmup_epochs: int) -> dict[str, Any]:
    model = make_model(X.shape[1], state["0.weight"].shape[0]).to(X.dtype)
    model.load_state_dict(state)
    with record_loop(max_events=20000) as recorder:
        lrs = student.train_with_schedule(model, X, y, n_epochs, base_lr, warmup_epochs)
    return {"lrs": lrs, "log": recorder.log(), "state": model.state_dict()}


def train_for_timing(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int, base_lr: float,
                     warmup_epochs: int, device: str) -> dict[str, Any]:
    where = torch.device(device)
    torch.manual_seed(0)
    model = make_model(X.shape[1], 32).to(where)
    X, y = X.to(where), y.to(where)
    lrs = student.train_with_schedule(model, X, y, n_epochs, base_lr, warmup_epochs)
    synchronize(where)
    summary = trained_summary(model)
    summary["last_lr"] = lrs[-1] if isinstance(lrs, list) and lrs else None
    return summary
