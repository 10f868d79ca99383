"""Loop tracing, worker side: record what a training loop really does, as plain data.

While a ``LoopRecorder`` is active it records, in order:

- ``forward``: each top-level module call, with the module's train/eval mode and whether grad
  is enabled (global module hooks);
- ``backward``: every ``backward()`` (the autograd engine is wrapped, so every alias is seen),
  with the state of each leaf's ``.grad`` just before it (None, zero, or holding values),
  whether parameters changed since the previous backward (an optimizer step or a manual update
  under ``no_grad``: seen through version counters and value checksums), and whether the same
  graph was backpropagated twice;
- ``step``: every ``torch.optim`` optimizer step (global hooks), with its parameters' gradient
  norms at that moment and the norm after the last backward;
- ``scheduler``: every learning-rate scheduler step.

The judge (``loopgrader.checks.loop``) reads the log in the grader process. What the recorder
sees is a claim made beside student code; graders also judge outcomes they compute themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.autograd.variable import Variable
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

__all__ = ["LoopRecorder", "record_loop"]

MAX_GRAPH_NODES = 20000


class LoopRecorder:
    """Collects loop events; use through :func:`record_loop`."""

    def __init__(self, max_events: int = 4000) -> None:
        self.events: list[dict[str, Any]] = []
        self.max_events = max_events
        self.dropped: dict[str, int] = {}
        self._leaves: dict[int, torch.Tensor] = {}
        self._seen: dict[int, tuple[int, float]] = {}
        self._last_grad_norms: dict[int, float] = {}
        self._last_roots: tuple[Any, ...] = ()
        self._depth = 0

    @property
    def full(self) -> bool:
        return len(self.events) >= self.max_events

    def add(self, event: dict[str, Any]) -> None:
        if not self.full:
            event["seq"] = len(self.events)
            self.events.append(event)
        else:
            self.dropped[event["kind"]] = self.dropped.get(event["kind"], 0) + 1

    def count_only(self, kind: str) -> bool:
        """Past the limit, events are only counted (so counts stay exact and tracing cheap)."""
        if self.full:
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
        return self.full

    def log(self) -> dict[str, Any]:
        """The plain-data log handed back to the grader."""
        self._last_roots = ()
        self._final_update_check()
        return {"events": self.events, "dropped": self.dropped}

    # --- forward -----------------------------------------------------------------------------
    def forward_pre(self, module: torch.nn.Module, args: Any) -> None:
        if self._depth == 0 and not self.count_only("forward"):
            self.add({"kind": "forward", "module": type(module).__name__,
                      "training": bool(module.training),
                      "grad_enabled": torch.is_grad_enabled(),
                      "inference": torch.is_inference_mode_enabled()})
        self._depth += 1

    def forward_post(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        self._depth = max(0, self._depth - 1)

    # --- backward ----------------------------------------------------------------------------
    def before_backward(self, roots: Any, accumulate: bool) -> None:
        if not accumulate:
            self.add({"kind": "autograd_grad"})
            return
        if self.count_only("backward"):
            return
        root_fns = tuple(t.grad_fn for t in roots
                         if isinstance(t, torch.Tensor) and t.grad_fn is not None)
        again = bool(root_fns) and len(root_fns) == len(self._last_roots) and all(
            a is b for a, b in zip(root_fns, self._last_roots, strict=True))
        leaves = self._graph_leaves(roots)
        for leaf in leaves:
            self._leaves.setdefault(id(leaf), leaf)
        states = {str(id(leaf)): _grad_state(leaf) for leaf in leaves}
        self.add({"kind": "backward", "grads_before": states,
                  "updated_since_last": self._updated_since_last(),
                  "same_graph_again": again})
        self._last_roots = root_fns  # a reference, so its id cannot be reused meanwhile

    def after_backward(self) -> None:
        if self.full:
            return
        self._last_grad_norms = {key: _grad_norm(leaf) for key, leaf in self._leaves.items()}
        self._snapshot()

    # --- optimizer and scheduler -------------------------------------------------------------
    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.count_only("step"):
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for p in params:
            self._leaves.setdefault(id(p), p)
        now = {str(id(p)): _grad_state(p) for p in params}
        self.add({"kind": "step", "optimizer": type(optimizer).__name__,
                  "lr": [float(g.get("lr", 0.0)) for g in optimizer.param_groups],
                  "grads": now,
                  "after_backward": {str(k): v for k, v in self._last_grad_norms.items()
                                     if any(k == id(p) for p in params)}})

    def optimizer_step_done(self) -> None:
        """Nothing to do: the next backward sees the step as a change of the parameters."""

    def scheduler_step(self, scheduler: Any) -> None:
        self.add({"kind": "scheduler", "scheduler": type(scheduler).__name__})

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _graph_leaves(roots: Any) -> list[torch.Tensor]:
        stack = [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn]
        seen: set[int] = set()
        leaves: list[torch.Tensor] = []
        while stack and len(seen) < MAX_GRAPH_NODES:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)
            if isinstance(variable, torch.Tensor):
                leaves.append(variable)
            stack.extend(fn for fn, _ in node.next_functions if fn is not None)
        return leaves

    def _snapshot(self) -> None:
        self._seen = {key: _fingerprint(leaf) for key, leaf in self._leaves.items()}

    def _updated_since_last(self) -> bool:
        return any(_fingerprint(self._leaves[key]) != seen
                   for key, seen in self._seen.items() if key in self._leaves)

    def _final_update_check(self) -> None:
        if self.full:
            return
        if self._seen and self._updated_since_last():
            self.add({"kind": "end", "updated_since_last": True})
            self._snapshot()
        elif self._seen:
            self.add({"kind": "end", "updated_since_last": False})


def _grad_state(t: torch.Tensor) -> dict[str, Any]:
    norm = _grad_norm(t)
    if t.grad is None:
        return {"state": "none", "norm": 0.0}
    return {"state": "zero" if norm == 0.0 else "values", "norm": norm}


def _grad_norm(t: torch.Tensor) -> float:
    grad = t.grad
    if grad is None:
        return 0.0
    with torch.no_grad():
        return float(grad.detach().abs().sum())


def _fingerprint(t: torch.Tensor) -> tuple[int, float]:
    with torch.no_grad():
        return t._version, float(t.detach().abs().sum())


class _TracingEngine:
    def __init__(self, engine: Any, recorder: LoopRecorder) -> None:
        self._engine = engine
        self._recorder = recorder

    def run_backward(self, tensors: Any, *args: Any, **kwargs: Any) -> Any:
        accumulate = bool(kwargs.get("accumulate_grad", args[-1] if args else True))
        self._recorder.before_backward(tensors, accumulate)
        try:
            return self._engine.run_backward(tensors, *args, **kwargs)
        finally:
            if accumulate:
                self._recorder.after_backward()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@contextlib.contextmanager
def record_loop(max_events: int = 4000) -> Iterator[LoopRecorder]:
    """Record the training loop run inside the ``with`` block."""
    recorder = LoopRecorder(max_events)
    engine = Variable._execution_engine
    handles = [
        register_module_forward_pre_hook(recorder.forward_pre),
        register_module_forward_hook(recorder.forward_post),
        register_optimizer_step_pre_hook(lambda opt, args, kwargs: recorder.optimizer_step(opt)),
        register_optimizer_step_post_hook(
            lambda opt, args, kwargs: recorder.optimizer_step_done()),
    ]
    scheduler_step = LRScheduler.step

    def traced_scheduler_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "last_epoch", -1) >= 0:  # not the step a scheduler makes at creation
            recorder.scheduler_step(self)
        return scheduler_step(self, *args, **kwargs)

    Variable._execution_engine = _TracingEngine(engine, recorder)  # type: ignore[assignment]
    LRScheduler.step = traced_scheduler_step  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        Variable._execution_engine = engine
        LRScheduler.step = scheduler_step  # type: ignore[method-assign]
        for handle in handles:
            handle.remove()
