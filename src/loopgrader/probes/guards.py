"""Worker-side guards: run student code where autograd is unavailable, or without chosen functions.

Used inside probes (they run in the worker, beside the student's code). ``backward()``,
``torch.autograd.grad`` and every alias of them reach the autograd engine through
``Variable._execution_engine``, which the guard swaps for one that refuses with a clear message.

The guards share the student's interpreter, so they also check themselves: on entry and on exit
of every guarded block, the objects the guard put in place must still be there and its own
classes untouched; under ``no_autograd()`` no autograd graph may have been recorded (a graph
recorded by code that then returned normally means the student switched autograd back on and
got gradients from it some other way). What fails is recorded as plain sentences that the worker
sends back with the call's reply (``take_violations``); the grader withholds the test's points
and flags the lesson. The course-wide source rules (``loopgrader.checks.integrity``) keep the
student's code from reaching this module or torch's private machinery in the first place.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch.autograd.graph import saved_tensors_hooks
from torch.autograd.variable import Variable

__all__ = ["NO_AUTOGRAD_MESSAGE", "allow_autograd", "forbid", "gate", "no_autograd",
           "take_violations"]

NO_AUTOGRAD_MESSAGE = ("this exercise asks for the gradients by hand: backward() and "
                       "torch.autograd.grad are not available here")

_VIOLATIONS: list[str] = []
_CLOSED: dict[str, int] = {}  # gated names forbidden right now (nesting depth)


def take_violations() -> list[str]:
    """What the guards saw undone since the last call (the worker sends it with each reply)."""
    found = list(dict.fromkeys(_VIOLATIONS))
    _VIOLATIONS.clear()
    return found


def _violation(sentence: str) -> None:
    _VIOLATIONS.append(sentence)


class _RefusingEngine:
    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def run_backward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(NO_AUTOGRAD_MESSAGE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class _Forbidden:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.name} is not allowed in this exercise: write it yourself")


# The guard's own code as loaded, before any student code ran: compared on every entry and exit.
_PRISTINE: dict[str, Any] = {
    "run_backward": _RefusingEngine.__dict__["run_backward"],
    "__getattr__": _RefusingEngine.__dict__["__getattr__"],
    "__call__": _Forbidden.__dict__["__call__"],
    "Variable": Variable,
}


def _check_guard_code() -> None:
    for name, cls in (("run_backward", _RefusingEngine), ("__getattr__", _RefusingEngine),
                      ("__call__", _Forbidden)):
        if cls.__dict__.get(name) is not _PRISTINE[name]:
            _violation(f"the grader's guard was changed ({cls.__name__}.{name} replaced)")
    module = sys.modules.get("torch.autograd.variable")
    if getattr(module, "Variable", None) is not _PRISTINE["Variable"]:
        _violation("torch's autograd module was replaced or reloaded")


class _GraphCounter:
    """Counts tensors autograd saves for a backward pass: any at all means a graph was built."""

    def __init__(self) -> None:
        self.saved = 0

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.saved += 1
        return tensor

    @staticmethod
    def unpack(tensor: torch.Tensor) -> torch.Tensor:
        return tensor


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


@contextlib.contextmanager
def no_autograd() -> Iterator[None]:
    """Inside: no graph is built and the autograd engine refuses to run."""
    _check_guard_code()
    engine = Variable._execution_engine
    refusing = _RefusingEngine(engine)
    counter = _GraphCounter()
    Variable._execution_engine = refusing  # type: ignore[assignment]
    try:
        with saved_tensors_hooks(counter.pack, counter.unpack), torch.no_grad():
            yield
        if counter.saved:
            _violation("autograd was switched back on inside code that must compute gradients "
                       f"by hand (it recorded a graph: {counter.saved} saved tensors)")
    finally:
        current: Any = Variable._execution_engine
        if current is not refusing:
            _violation("the autograd engine was put back while autograd was switched off")
        Variable._execution_engine = engine
        _check_guard_code()


def gate(*dotted: str) -> None:
    """Called by a probe module as it loads (before the student's file is imported): each named
    function is replaced, for the worker's whole life, by a gate that calls it except inside
    ``forbid()`` of that name. A reference the student's code takes at import time, under any
    name, is then the gate, and refuses inside ``forbid()`` too. Classes are left as they are
    (a gate would break ``isinstance`` and subclassing)."""
    for name in dotted:
        owner_name, attr = name.rsplit(".", 1)
        owner: Any = _resolve(owner_name)
        original = owner.__dict__.get(attr, getattr(owner, attr, None))
        if original is None or isinstance(original, type) or getattr(original, "_loopgrader_gate",
                                                                     False):
            continue
        setattr(owner, attr, _make_gate(name, original))


def _make_gate(name: str, original: Any) -> Any:
    def gated(*args: Any, **kwargs: Any) -> Any:
        if _CLOSED.get(name):
            raise RuntimeError(f"{name} is not allowed in this exercise: write it yourself")
        return original(*args, **kwargs)

    for field in ("__name__", "__qualname__", "__doc__", "__module__"):
        with contextlib.suppress(AttributeError, TypeError):
            setattr(gated, field, getattr(original, field))
    gated._loopgrader_gate = True  # type: ignore[attr-defined]
    return gated


@contextlib.contextmanager
def forbid(*dotted: str) -> Iterator[None]:
    """Inside: each named attribute (``torch.sigmoid``, ``torch.Tensor.relu``...) raises, and so
    does every gate of those names (``gate``)."""
    _check_guard_code()
    saved: list[tuple[Any, str, Any, _Forbidden]] = []
    for name in dotted:
        _CLOSED[name] = _CLOSED.get(name, 0) + 1
    try:
        for name in dotted:
            owner_name, attr = name.rsplit(".", 1)
            owner: Any = _resolve(owner_name)
            refusal = _Forbidden(name)
            saved.append((owner, attr, owner.__dict__.get(attr, getattr(owner, attr)), refusal))
            setattr(owner, attr, refusal)
        yield
    finally:
        for owner, attr, value, refusal in reversed(saved):
            if owner.__dict__.get(attr) is not refusal:
                _violation(f"{refusal.name}, which this exercise forbids, was put back while "
                           "it was forbidden")
            setattr(owner, attr, value)
        for name in dotted:
            _CLOSED[name] -= 1
        _check_guard_code()


def _resolve(dotted: str) -> Any:
    import importlib

    parts = dotted.split(".")
    obj: Any = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


@contextlib.contextmanager
def allow_autograd() -> Iterator[None]:
    """For grader-owned helpers called from inside ``no_autograd()``: autograd works here."""
    engine = Variable._execution_engine
    inner = engine._engine if isinstance(engine, _RefusingEngine) else engine
    Variable._execution_engine = inner
    try:
        with saved_tensors_hooks(_identity, _identity), torch.enable_grad():
            yield
    finally:
        Variable._execution_engine = engine
