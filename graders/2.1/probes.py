"""Worker-side helpers for lesson 2.1: build models beside the student's code and run it on them.

Everything returned is plain data (state dicts, losses, loop logs). The tests rebuild the same
models in the grader process and judge outcomes there: accuracies are recomputed from returned
states, never taken from what runs here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def controlled_model(kind: str) -> nn.Module:
    """Models the graders choose (not the student's MLP), so fit/accuracy are judged alone."""
    if kind == "linear":
        return nn.Linear(2, 1)
    if kind == "identity_logit":
        return nn.Linear(1, 1)
    if kind == "tanh_net":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    if kind == "dropout_net":
        return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 1))
    raise ValueError(f"unknown model kind {kind!r}")


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build_mlp(student: ModuleType, in_features: int, hidden: int, out_features: int,
              activation: str, seed: int, X: Tensor) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    model = student.MLP(in_features, hidden, out_features, activation)
    with torch.no_grad():
        output = model(X)
    params = list(model.parameters())
    return {"state": _state(model), "output": output,
            "param_shapes": [list(p.shape) for p in params],
            "requires_grad": [bool(p.requires_grad) for p in params]}


def train_mlp(student: ModuleType, X: Tensor, y: Tensor, n_epochs: int, lr: float,
              seed: int) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    model = student.MLP(2, 16, 1)
    initial = _state(model)
    losses = student.fit_classifier(model, X, y, n_epochs=n_epochs, lr=lr)
    return {"initial": initial, "final": _state(model), "losses": losses}


def train_controlled(student: ModuleType, kind: str, X: Tensor, y: Tensor, n_epochs: int,
                     lr: float, seed: int, start_in_eval: bool = False) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    model = controlled_model(kind)
    initial = _state(model)
    if start_in_eval:
        model.eval()
    with record_loop() as recorder:
        losses = student.fit_classifier(model, X, y, n_epochs=n_epochs, lr=lr)
    return {"initial": initial, "final": _state(model), "losses": losses,
            "log": recorder.log()}


def run_accuracy(student: ModuleType, kind: str, state: dict[str, Tensor], X: Tensor,
                 y: Tensor, start_training: bool = True) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    model = controlled_model(kind)
    model.load_state_dict(state)
    model.train(start_training)
    try:
        with record_loop() as recorder:
            value = student.accuracy(model, X, y)
        grad_enabled_after = torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)  # whatever the student left behind, later calls start clean
    return {"value": value, "log": recorder.log(), "grad_enabled_after": grad_enabled_after,
            "requires_grad_after": [bool(p.requires_grad) for p in model.parameters()],
            "state_after": _state(model)}


def fit_for_timing(student: ModuleType, X: Tensor, y: Tensor, device: str,
                   n_epochs: int) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    where = torch.device(device)
    torch.manual_seed(0)
    model = controlled_model("tanh_net").to(where)
    losses = student.fit_classifier(model, X.to(where), y.to(where), n_epochs=n_epochs,
                                    lr=0.01)
    synchronize(where)
    return trained_summary(model, losses)
