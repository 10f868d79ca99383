"""Worker-side helpers for lesson 2.4: run every activation at once, and run them where torch's
built-in activations are unavailable.

Two guards are stacked for the run-time rule: ``loopgrader.probes.guards.forbid`` replaces the
forbidden attributes (so ``getattr(torch, "sig" + "moid")`` fails), and a TorchFunctionMode
refuses the same functions however they are reached (a reference taken at import time,
``torch._C._VariableFunctions.sigmoid``, ``torch.ops.aten.sigmoid``), recording each use.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from loopgrader.probes.guards import forbid

FUNCTIONS = ("relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "sigmoid", "sigmoid_grad",
             "tanh", "tanh_grad")
SLOPED = ("leaky_relu", "leaky_relu_grad")

FORBIDDEN_ATTRIBUTES = (
    "torch.sigmoid", "torch.sigmoid_", "torch.tanh", "torch.tanh_", "torch.relu", "torch.relu_",
    "torch.rrelu", "torch.Tensor.sigmoid", "torch.Tensor.sigmoid_", "torch.Tensor.tanh",
    "torch.Tensor.tanh_", "torch.Tensor.relu", "torch.Tensor.relu_",
    "torch.nn.functional.relu", "torch.nn.functional.relu_", "torch.nn.functional.leaky_relu",
    "torch.nn.functional.leaky_relu_", "torch.nn.functional.sigmoid",
    "torch.nn.functional.tanh", "torch.nn.functional.hardtanh", "torch.nn.functional.logsigmoid",
    "torch.nn.functional.silu", "torch.nn.functional.softplus", "torch.special.expit",
)
FORBIDDEN_NAMES = {"sigmoid", "sigmoid_", "tanh", "tanh_", "relu", "relu_", "leaky_relu",
                   "leaky_relu_", "rrelu", "rrelu_", "hardtanh", "hardtanh_"}
FORBIDDEN_MODULES = ("torch.nn.functional", "torch._C._nn", "torch._C._special", "torch.special")


def _label(func: Any) -> str:
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None) or "torch.Tensor"
    if module == "torch._C._special":
        return f"torch.special.{name.removeprefix('special_')}"
    return f"{module}.{name}"


def _forbidden(func: Any) -> bool:
    name = str(getattr(func, "__name__", ""))
    module = str(getattr(func, "__module__", "") or "")
    return (name in FORBIDDEN_NAMES or name.startswith("special_")
            or module.startswith(FORBIDDEN_MODULES))


class RefuseBuiltins(TorchFunctionMode):
    """Refuses (and records) calls of torch functions that ``is_forbidden`` names."""

    def __init__(self, is_forbidden: Callable[[Any], bool]) -> None:
        super().__init__()
        self.is_forbidden = is_forbidden
        self.used: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if self.is_forbidden(func):
            label = _label(func)
            self.used.append(label)
            raise RuntimeError(f"{label} is not allowed in this exercise: write it yourself")
        return func(*args, **(kwargs or {}))


def _call(student: ModuleType, name: str, x: torch.Tensor, slope: float | None) -> Any:
    function = getattr(student, name)
    if name in SLOPED and slope is not None:
        return function(x, negative_slope=slope)
    return function(x)


def run_all(student: ModuleType, x: torch.Tensor, slope: float | None) -> dict[str, Any]:
    """Every elementwise function on its own copy of x; the copies come back to be compared."""
    outputs, inputs_after = {}, {}
    for name in FUNCTIONS:
        copy = x.clone()
        outputs[name] = _call(student, name, copy, slope)
        inputs_after[name] = copy
    return {"outputs": outputs, "inputs_after": inputs_after}


def run_without_builtins(student: ModuleType, x: torch.Tensor, slope: float,
                         pre: torch.Tensor) -> dict[str, Any]:
    """Every function with torch's activations switched off; records any attempt to use them."""
    guard = RefuseBuiltins(_forbidden)
    with forbid(*FORBIDDEN_ATTRIBUTES), guard:
        outputs = {name: _call(student, name, x.clone(), slope) for name in FUNCTIONS}
        outputs["dead_relu_fraction"] = student.dead_relu_fraction(pre.clone())
    return {"outputs": outputs, "used": guard.used}


def implemented(student: ModuleType, x: torch.Tensor) -> list[str]:
    """Names of the functions that no longer raise NotImplementedError."""
    done = []
    for name in (*FUNCTIONS, "dead_relu_fraction"):
        try:
            getattr(student, name)(x.clone())
        except NotImplementedError:
            continue
        except Exception:  # a bug is not "not started"
            pass
        done.append(name)
    return done
