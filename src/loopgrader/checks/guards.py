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

__all__ = ["NO_AUTOGRAD_MESSAGE", "no_autograd"]

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
