"""Points as every output writes them: ``4``, ``2.5``, ``0.333333`` (Python's ``g`` format)."""

from __future__ import annotations

__all__ = ["points"]


def points(value: float | None) -> str:
    """``value`` in the fewest digits that show it; ``""`` for no value (an empty cell)."""
    return "" if value is None else f"{value:g}"
