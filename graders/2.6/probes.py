"""Worker-side helpers for lesson 2.6: models for the penalty and training checks, and runs of the
student's Dropout (several calls on one module, gradients, built-in dropout switched off).

What comes back is plain data; the tests judge it against torch runs made in the grader process.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from loopgrader.probes.devices import synchronize
from loopgrader.probes.guards import forbid
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop

FORBIDDEN_ATTRIBUTES = (
    "torch.nn.Dropout", "torch.nn.modules.dropout.Dropout", "torch.nn.functional.dropout",
    "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d",
    "torch.nn.functional.dropout3d", "torch.nn.functional.alpha_dropout",
    "torch.nn.functional.feature_alpha_dropout", "torch.dropout", "torch.dropout_",
    "torch.feature_dropout", "torch.alpha_dropout", "torch.native_dropout",
)


def controlled_model(kind: str) -> nn.Module:
    """The graders' models (the tests build the same ones)."""
    if kind == "mlp":
        return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    if kind == "mixed":
        return nn.Sequential(nn.Conv1d(2, 3, 3), nn.LayerNorm(4), nn.Flatten(), nn.Linear(12, 2))
    if kind == "regression":
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    if kind == "wide":
        return nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1))
    raise ValueError(f"unknown model kind {kind!r}")


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def penalty(student: ModuleType, kind: str, state: dict[str, Tensor],
            include_bias: bool | None) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    model = controlled_model(kind).to(torch.float64)
    model.load_state_dict(state)
    value = (student.l2_penalty(model) if include_bias is None
             else student.l2_penalty(model, include_bias=include_bias))
    differentiable = isinstance(value, Tensor) and value.requires_grad
    if differentiable and value.numel() == 1:
        value.sum().backward()
    grads = {name: (None if p.grad is None else p.grad.clone())
             for name, p in model.named_parameters()}
    return {"value": value, "differentiable": differentiable, "grads": grads}


def train_l2_traced(student: ModuleType, X: Tensor, y: Tensor, lam: float, lr: float,
                    n_epochs: int, seed: int) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    model = controlled_model("regression").to(X.dtype)
    initial = _state(model)
    with record_loop() as recorder:
        losses = student.train_l2(model, X, y, lam=lam, lr=lr, n_epochs=n_epochs)
    return {"initial": initial, "final": _state(model), "losses": losses,
            "log": recorder.log()}


def train_l2_for_timing(student: ModuleType, X: Tensor, y: Tensor, device: str,
                        n_epochs: int) -> dict[str, Any]:
    torch.set_grad_enabled(True)
    where = torch.device(device)
    torch.manual_seed(0)
    model = controlled_model("wide").to(where)
    losses = student.train_l2(model, X.to(where), y.to(where), lam=1e-3, lr=0.05,
                              n_epochs=n_epochs)
    synchronize(where)
    return trained_summary(model, losses)


def dropout_calls(student: ModuleType, p: float, x: Tensor, training: bool, calls: int,
                  seed: int) -> dict[str, Any]:
    """``calls`` forward passes of one Dropout(p) on copies of x; the copies come back too."""
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    dropout = student.Dropout(p)
    dropout.train(training)
    outputs, inputs_after = [], []
    for _ in range(calls):
        copy = x.clone()
        outputs.append(dropout(copy))
        inputs_after.append(copy)
    return {"outputs": outputs, "inputs_after": inputs_after}


def dropout_gradient(student: ModuleType, p: float, x: Tensor, weights: Tensor,
                     seed: int) -> dict[str, Any]:
    """Backpropagate sum(Dropout(p)(x) * weights) to x, in training mode."""
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    dropout = student.Dropout(p)
    dropout.train()
    leaf = x.clone().requires_grad_(True)
    out = dropout(leaf)
    connected = isinstance(out, Tensor) and out.requires_grad
    if connected:
        (out * weights).sum().backward()
    return {"output": out, "grad": leaf.grad, "connected": connected}


class RefuseBuiltins(TorchFunctionMode):
    """Refuses (and records) calls of torch functions that ``is_forbidden`` names, however they
    are reached (an alias bound at import time, ``torch._C._VariableFunctions``...)."""

    def __init__(self, is_forbidden: Callable[[Any], bool]) -> None:
        super().__init__()
        self.is_forbidden = is_forbidden
        self.used: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if self.is_forbidden(func):
            module = getattr(func, "__module__", None) or "torch.Tensor"
            label = f"{module}.{getattr(func, '__name__', repr(func))}"
            self.used.append(label)
            raise RuntimeError(f"{label} is not allowed in this exercise: write it yourself")
        return func(*args, **(kwargs or {}))


def _is_dropout(func: Any) -> bool:
    return "dropout" in str(getattr(func, "__name__", "")).lower()


def dropout_without_builtins(student: ModuleType, p: float, x: Tensor,
                             seed: int) -> dict[str, Any]:
    """Dropout built and run (train, then eval) with torch's dropout switched off."""
    torch.set_grad_enabled(True)
    torch.manual_seed(seed)
    guard = RefuseBuiltins(_is_dropout)
    with forbid(*FORBIDDEN_ATTRIBUTES), guard:
        dropout = student.Dropout(p)
        dropout.train()
        trained = dropout(x.clone())
        dropout.eval()
        evaluated = dropout(x.clone())
    return {"train": trained, "eval": evaluated, "used": guard.used}
