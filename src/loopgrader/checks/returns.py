"""What student code returned, taken apart with a message a student can act on.

Exercises return tuples (``(w, b, losses)``, ``(loss, grads)``); a grader that indexes into
whatever came back would fail with a ``TypeError`` of its own instead of telling the student
what the contract asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loopgrader.checks.failures import GradingFailure

__all__ = ["describe_value", "unpack"]


def describe_value(value: Any) -> str:
    """``None``, ``a float``, ``a tuple of 3``: what a value is, in a few words."""
    if value is None:
        return "None"
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if isinstance(value, (tuple, list)):
        return f"{article} {name} of {len(value)}"
    return f"{article} {name}"


def unpack(value: Any, names: Sequence[str], *, what: str, hint: str | None = None
           ) -> tuple[Any, ...]:
    """``value`` as a tuple of ``len(names)`` items (a tuple or a list of that length).

    ``unpack(result, ("w", "b", "losses"), what="fit")`` fails with "fit must return a tuple
    (w, b, losses), got a float".
    """
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return tuple(value)
    shape = "a pair" if len(names) == 2 else "a tuple"
    raise GradingFailure(f"{what} must return {shape} ({', '.join(names)}), got "
                         f"{describe_value(value)}", hint=hint)
