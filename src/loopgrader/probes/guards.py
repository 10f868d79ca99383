"""Worker-side guards: run student code where autograd is unavailable.

Used inside probes (they run in the worker, beside the student's code). ``backward()``,
``torch.autograd.grad`` and every alias of them reach the autograd engine through
``Variable._execution_engine``, which the guard swaps for one that refuses with a clear message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.autograd.variable import Variable

__all__ = ["NO_AUTOGRAD_MESSAGE", "allow_autograd", "forbid", "no_autograd"]

NO_AUTOGRAD_MESSAGE = ("this exercise asks for the gradients by hand: backward() and "
                       "torch.autograd.grad are not available here")


class _RefusingEngine:
    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def run_backward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(NO_AUTOGRAD_MESSAGE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@contextlib.contextmanager
def no_autograd() -> Iterator[None]:
    """Inside: no graph is built and the autograd engine refuses to run."""
    engine = Variable._execution_engine
    Variable._execution_engine = _RefusingEngine(engine)  # type: ignore[assignment]
    try:
        with torch.no_grad():
            yield
    finally:
        Variable._execution_engine = engine


class _Forbidden:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.name} is not allowed in this exercise: write it yourself")


@contextlib.contextmanager
def forbid(*dotted: str) -> Iterator[None]:
    """Inside: each named attribute (``torch.sigmoid``, ``torch.Tensor.relu``...) raises."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for name in dotted:
            owner_name, attr = name.rsplit(".", 1)
            owner: Any = _resolve(owner_name)
            saved.append((owner, attr, owner.__dict__.get(attr, getattr(owner, attr))))
            setattr(owner, attr, _Forbidden(name))
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


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
        with torch.enable_grad():
            yield
    finally:
        Variable._execution_engine = engine
