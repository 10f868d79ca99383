"""The ``student`` fixture's type, for graders' annotations (``def test_x(student: Student)``).

Every attribute is a function of the student's module that runs in the sandboxed worker when
called; ``probe`` runs a grader-authored helper from the lesson's ``probes.py`` beside it. What
comes back is plain data (tensors, numbers, strings, lists, dicts, model snapshots).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["ModuleSnapshot", "Student"]


@dataclass(frozen=True)
class ModuleSnapshot:
    """What crosses back when student code returns an ``nn.Module``: its state, not the object
    (``isinstance(value, ModuleSnapshot)`` tells a grader that a module came back)."""

    type_name: str
    state: dict[str, torch.Tensor]
    training: bool


class Student(Protocol):
    """The student's module, as the grader process sees it."""

    @property
    def file_name(self) -> str:
        """The student's file as messages name it (``linear_regression.py``)."""
        ...

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``probes.<name>(student_module, *args, **kwargs)`` in the worker."""
        ...

    def timed_probe(self, timeout: float, name: str, *args: Any,
                    **kwargs: Any) -> tuple[Any, float]:
        """Like :meth:`probe` with its own timeout; returns (value, wall seconds)."""
        ...

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """``student.fit(...)``: call the student's ``fit`` in the worker."""
        ...
