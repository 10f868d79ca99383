"""Worker-side helpers for lesson 3.1: run the student's optimizers on scripted gradients.

Parameters are built here from plain-data initial values, the gradients (plain data, generated
by the grader from a seed) are assigned step by step, and the parameter trajectory goes back to
the grader, which runs torch's optimizer on the same script and compares.
"""

from __future__ import annotations

import io
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.guards import forbid, gate
from loopgrader.probes.trace import record_loop

# torch's own update functions: the exercise is to write them, so they refuse to run here.
TORCH_UPDATES = ("torch.optim.sgd.sgd", "torch.optim.rmsprop.rmsprop", "torch.optim.adam.adam",
                 "torch.optim.adamw.adamw")
gate(*TORCH_UPDATES)  # before the student's file is imported: references it keeps are gates


def _groups(spec: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    groups, flat = [], []
    for group in spec:
        params = [nn.Parameter(t.detach().clone()) for t in group["params"]]
        flat.extend(params)
        groups.append({**group, "params": params})
    return groups, flat


def _set_grads(flat: list[nn.Parameter], grads: list[Tensor | None]) -> None:
    """Like backward() after zero_grad(set_to_none=False): .grad is reused when it exists."""
    for p, g in zip(flat, grads, strict=True):
        if g is None:
            p.grad = None
        elif p.grad is None:
            p.grad = g.detach().clone()
        else:
            with torch.no_grad():
                p.grad.copy_(g)


def _round_trip(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """state_dict() through bytes, as a checkpoint file would carry it."""
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    loaded: dict[str, Any] = torch.load(buffer, weights_only=True)
    return loaded


def describe_state(optimizer: torch.optim.Optimizer, flat: list[Tensor]) -> dict[str, Any]:
    """Where the optimizer keeps its state, as plain data the grader can judge."""
    index = {id(p): i for i, p in enumerate(flat)}
    state = getattr(optimizer, "state", {})
    other_keys = [repr(k)[:60] for k in list(state)
                  if not (isinstance(k, Tensor) and id(k) in index)]
    has_state, shared, wrong_dtype, graph, aliases = [], [], [], [], []
    owners: dict[int, tuple[int, str]] = {}
    dicts: dict[int, int] = {}
    for i, p in enumerate(flat):
        entry = state.get(p) if isinstance(state, dict) else None
        has_state.append(bool(entry))
        if not isinstance(entry, dict) or not entry:
            continue
        if id(entry) in dicts:
            shared.append([dicts[id(entry)], "(the whole state dict)", i, "(the whole state dict)"])
        dicts.setdefault(id(entry), i)
        for key, value in entry.items():
            if not isinstance(value, Tensor):
                continue
            if value.requires_grad or value.grad_fn is not None:
                graph.append([i, str(key)])
            if value.is_floating_point() and value.numel() > 1 and value.dtype != p.dtype:
                wrong_dtype.append([i, str(key), str(value.dtype).replace("torch.", "")])
            if value.numel() == 0:
                continue
            ptr = value.untyped_storage().data_ptr()
            if p.grad is not None and p.grad.untyped_storage().data_ptr() == ptr:
                aliases.append([i, str(key)])
            if ptr in owners and owners[ptr] != (i, str(key)):
                first = owners[ptr]
                shared.append([first[0], first[1], i, str(key)])
            owners.setdefault(ptr, (i, str(key)))
    return {"other_keys": other_keys, "has_state": has_state, "shared": shared,
            "wrong_dtype": wrong_dtype, "graph": graph, "aliases_grad": aliases}


def run_optimizer(student: ModuleType, name: str, spec: list[dict[str, Any]],
                  options: dict[str, Any], grads: list[list[Tensor | None]],
                  resume_at: int | None = None) -> dict[str, Any]:
    """Build ``student.<name>(groups, **options)``, apply the scripted gradients step by step.

    With ``resume_at=k``: after k steps, save ``state_dict()`` through bytes, build a fresh
    optimizer on fresh parameters (same values) and continue from the loaded state.
    """
    cls = getattr(student, name)
    groups, flat = _groups(spec)
    optimizer = cls(groups, **options)
    mro = [f"{c.__module__}.{c.__qualname__}" for c in type(optimizer).__mro__]
    trajectory: list[list[Tensor]] = []
    saved: dict[str, Any] | None = None
    with forbid(*TORCH_UPDATES):
        for k, step_grads in enumerate(grads):
            if resume_at is not None and k == resume_at:
                saved = _round_trip(optimizer)
                spec_now = [{**g, "params": [p.detach() for p in group["params"]]}
                            for g, group in zip(spec, groups, strict=True)]
                groups, flat = _groups(spec_now)
                optimizer = cls(groups, **options)
                optimizer.load_state_dict(saved)
            _set_grads(flat, step_grads)
            optimizer.step()
            trajectory.append([p.detach().clone() for p in flat])
    saved_states = None if saved is None else len(saved.get("state", {}))
    return {"mro": mro, "trajectory": trajectory, "state": describe_state(optimizer, flat),
            "saved_states": saved_states}


def step_with_graph_grads(student: ModuleType, name: str, options: dict[str, Any],
                          inits: list[Tensor], grads: list[list[Tensor]]) -> dict[str, Any]:
    """Steps whose gradients carry an autograd graph (as after backward(create_graph=True)).

    torch's optimizers build no graph from them; a step that is not under no_grad does.
    """
    cls = getattr(student, name)
    scale = torch.ones((), dtype=inits[0].dtype, requires_grad=True)
    params = [nn.Parameter(t.detach().clone()) for t in inits]
    optimizer = cls(params, **options)
    grad_mode_after, trajectory = [], []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = g.detach().clone() * scale
        optimizer.step()
        grad_mode_after.append(torch.is_grad_enabled())
        trajectory.append([p.detach().clone() for p in params])
    return {"state": describe_state(optimizer, list(params)),
            "params_are_leaves": all(p.is_leaf and p.grad_fn is None for p in params),
            "params_require_grad": all(p.requires_grad for p in params),
            "grad_mode_after": grad_mode_after,
            "trajectory": trajectory}


def train_model(student: ModuleType, name: str, options: dict[str, Any],
                state: dict[str, Tensor], X: Tensor, y: Tensor, n_steps: int) -> dict[str, Any]:
    """A standard training loop (ours) driving the student's optimizer on a small model."""
    model = nn.Linear(X.shape[1], y.shape[1])
    model.load_state_dict(state)
    optimizer = getattr(student, name)(model.parameters(), **options)
    losses = []
    with record_loop() as recorder, forbid(*TORCH_UPDATES):
        for _ in range(n_steps):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(X), y)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return {"log": recorder.log(), "losses": losses, "state": model.state_dict()}


def train_with_closure(student: ModuleType, name: str, options: dict[str, Any],
                       state: dict[str, Tensor], X: Tensor, y: Tensor,
                       n_steps: int) -> dict[str, Any]:
    """The closure form of a training step: ``loss = optimizer.step(closure)``.

    The closure (ours) zeroes the gradients, computes the loss and calls backward(), as in
    torch's documentation for L-BFGS. For each step it records whether gradients were enabled
    inside the closure, how often it ran, and whether step() returned the closure's loss.
    """
    model = nn.Linear(X.shape[1], y.shape[1])
    model.load_state_dict(state)
    optimizer = getattr(student, name)(model.parameters(), **options)
    grad_enabled: list[bool] = []
    calls: list[int] = []
    returned_same: list[bool] = []
    returned_repr: list[str] = []
    losses: list[float] = []
    last: list[Tensor] = []

    def closure() -> Tensor:
        grad_enabled.append(torch.is_grad_enabled())
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        if loss.requires_grad:
            loss.backward()
        last.append(loss)
        return loss

    with forbid(*TORCH_UPDATES):
        for _ in range(n_steps):
            before = len(grad_enabled)
            last.clear()
            returned = optimizer.step(closure)
            calls.append(len(grad_enabled) - before)
            returned_same.append(bool(last) and returned is last[0])
            returned_repr.append(type(returned).__name__)
            losses.append(float(last[0].detach()) if last else float("nan"))
    return {"grad_enabled": grad_enabled, "calls": calls, "returned_same": returned_same,
            "returned_type": returned_repr, "losses": losses, "state": model.state_dict()}
