"""Worker-side helpers for lesson 3.9: build small networks, call the student's functions on
them, and report what happened as plain data (flags, states, loop logs).

Networks are described by a ``spec`` (a list of layers such as ``["linear", 5, 16]`` or
``["relu"]``) and loaded with a state dict the grader made, so the grader can build the very
same network on its side.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop

LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def build(spec: list[list[Any]], state: dict[str, Tensor] | None = None) -> nn.Sequential:
    layers = [nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
              else LAYERS[str(item[0])]() for item in spec]
    model = nn.Sequential(*layers)
    if state is not None:
        model.load_state_dict(state)
    return model


def _state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _describe(layer: nn.Module) -> dict[str, Any]:
    return {"type": type(layer).__name__, "in": getattr(layer, "in_features", None),
            "out": getattr(layer, "out_features", None),
            "trainable": [bool(p.requires_grad) for p in layer.parameters()],
            "state": _state(layer)}


def freeze_flags(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                 index: int | None) -> dict[str, Any]:
    """freeze() the whole model (index None) or one of its layers; requires_grad per parameter."""
    model = build(spec, state)
    student.freeze(model if index is None else model[index])
    return {"flags": {name: bool(p.requires_grad) for name, p in model.named_parameters()},
            "state": _state(model)}


def replace_head_result(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                        num_outputs: int, frozen: bool) -> dict[str, Any]:
    """replace_head() on a (possibly frozen) model; the returned model, layer by layer."""
    model = build(spec, state)
    if frozen:
        model.requires_grad_(False)
    result = student.replace_head(model, num_outputs)
    if not isinstance(result, nn.Sequential):
        return {"returned": type(result).__name__}
    return {"layers": [_describe(layer) for layer in result]}


def count_result(student: ModuleType, spec: list[list[Any]], frozen: list[int],
                 shared: bool) -> dict[str, Any]:
    """count_trainable() on a model with some layers frozen (and one layer used twice)."""
    model = build(spec)
    if shared:
        model = nn.Sequential(*model, model[0])
    for index in frozen:
        model[index].requires_grad_(False)
    value = student.count_trainable(model)
    return {"value": value if isinstance(value, (int, float, Tensor)) else None,
            "type": type(value).__name__}


def _frozen_model(spec: list[list[Any]], state: dict[str, Tensor],
                  head_state: dict[str, Tensor]) -> nn.Sequential:
    """The body of ``spec`` frozen, with a fresh head (the last layer) loaded from head_state."""
    model = build(spec, state)
    model.requires_grad_(False)
    last = model[len(model) - 1]
    head = nn.Linear(last.in_features, head_state["weight"].shape[0])
    head.load_state_dict(head_state)
    model[len(model) - 1] = head
    return model


def finetune_run(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                 head_state: dict[str, Tensor], X: Tensor, y: Tensor, n_epochs: int,
                 lr: float) -> dict[str, Any]:
    """finetune() on a frozen body with a new head, traced; parameters before and after."""
    model = _frozen_model(spec, state, head_state)
    names = {str(id(p)): name for name, p in model.named_parameters()}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    before = _state(model)
    with record_loop() as recorder:
        losses = student.finetune(model, X, y, n_epochs, lr)
    return {"losses": losses, "before": before, "after": _state(model), "log": recorder.log(),
            "names": names, "trainable": sorted(trainable),
            "requires_grad_after": {n: bool(p.requires_grad)
                                    for n, p in model.named_parameters()}}


def finetune_for_timing(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                        head_state: dict[str, Tensor], X: Tensor, y: Tensor, n_epochs: int,
                        lr: float, device: str) -> dict[str, Any]:
    target = torch.device(device)
    model = _frozen_model(spec, state, head_state).to(target)
    losses = student.finetune(model, X.to(target), y.to(target), n_epochs, lr)
    synchronize(target)
    return trained_summary(model, losses)
