"""Worker-side helpers for lesson 3.3: initialisers run where torch.nn.init refuses to run.

Identity and storage of the filled tensor can only be checked here (what crosses to the grader
is a copy), so the probes report them alongside the values.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.guards import forbid, gate

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def nn_init_functions() -> list[str]:
    """Every function torch.nn.init defines (public or not), as dotted names."""
    return [f"torch.nn.init.{name}" for name, value in vars(torch.nn.init).items()
            if inspect.isfunction(value) and value.__module__ == "torch.nn.init"]


gate(*nn_init_functions())  # before the student's file is imported: references it keeps are gates


@contextlib.contextmanager
def no_nn_init() -> Iterator[None]:
    with forbid(*nn_init_functions()):
        yield


def fill(student: ModuleType, name: str, shape: list[int], args: list[Any], seed: int,
         dtype: str = "float32") -> dict[str, Any]:
    """Call ``name(t, *args)`` on a NaN-filled tensor; report identity, storage and values."""
    torch.manual_seed(seed)
    tensor = torch.full(shape, math.nan, dtype=DTYPES[dtype])
    pointer = tensor.data_ptr()
    with no_nn_init():
        out = getattr(student, name)(tensor, *args)
    return {"same_object": out is tensor, "same_storage": tensor.data_ptr() == pointer,
            "returned_type": type(out).__name__, "values": tensor.detach().clone(),
            "returned": out.detach().clone() if isinstance(out, Tensor) else None}


def fill_layer_weight(student: ModuleType, name: str, in_features: int, out_features: int,
                      seed: int) -> dict[str, Any]:
    """Call ``name(layer.weight)`` on a fresh nn.Linear (a Parameter that requires grad)."""
    torch.manual_seed(seed)
    layer = nn.Linear(in_features, out_features)  # built before nn.init is switched off
    weight = layer.weight
    before = weight.detach().clone()
    with no_nn_init():
        out = getattr(student, name)(weight)
    return {"same_object": out is weight, "still_parameter": isinstance(layer.weight, nn.Parameter)
            and layer.weight is weight, "requires_grad": bool(weight.requires_grad),
            "is_leaf": bool(weight.is_leaf), "before": before, "values": weight.detach().clone()}


def build(spec: list[list[Any]]) -> nn.Sequential:
    """``[["linear", 4, 8], ["relu"], ["tanh"], ["sigmoid"]]`` → nn.Sequential."""
    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    layers: list[nn.Module] = []
    for item in spec:
        layers.append(nn.Linear(item[1], item[2]) if item[0] == "linear" else kinds[item[0]]())
    return nn.Sequential(*layers)


def stds_of(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
            x: Tensor) -> Any:
    model = build(spec).to(x.dtype)
    model.load_state_dict(state)
    return student.activation_stds(model, x)


def deep_relu_stack(student: ModuleType, width: int, depth: int, init: str, x: Tensor,
                    seed: int) -> dict[str, Any]:
    """A depth-layer Linear/ReLU stack, weights from the student's kaiming_normal_ (or a tiny
    normal init), biases zero; returns the weights and the student's activation_stds."""
    torch.manual_seed(seed)
    model = build([["linear", width, width], ["relu"]] * depth)
    unchanged = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            with torch.no_grad():
                layer.bias.zero_()
                if init == "tiny":
                    layer.weight.normal_(0.0, 0.01)
            if init == "kaiming":
                before = layer.weight.detach().clone()
                with no_nn_init():
                    student.kaiming_normal_(layer.weight)
                unchanged.append(bool(torch.equal(layer.weight.detach(), before)))
    stds = student.activation_stds(model, x)
    return {"state": model.state_dict(), "stds": stds, "unchanged": unchanged}
