"""Geometry for the report's inline SVG charts: numbers in, point lists out (no markup here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LineChart", "line_chart", "sparkline"]


@dataclass(frozen=True)
class LineChart:
    """Polylines already scaled to a ``width`` × ``height`` box, plus axis labels."""

    width: int
    height: int
    series: tuple[tuple[str, str], ...]  # (name, "x,y x,y ...")
    y_min: float
    y_max: float
    log_scale: bool


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _scale(values: Sequence[float], lo: float, hi: float, width: int, height: int,
           pad: int, log: bool) -> str:
    if not values:
        return ""
    f = (lambda v: math.log10(max(v, 1e-12))) if log else (lambda v: v)
    a, b = f(lo), f(hi)
    span = (b - a) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = []
    for i, value in enumerate(values):
        y = height - pad - (f(value) - a) / span * (height - 2 * pad)
        points.append(f"{pad + i * step:.1f},{y:.1f}")
    return " ".join(points)


def sparkline(fractions: Sequence[float], width: int = 120, height: int = 28) -> str:
    """Points of a history chart of scores in [0, 1]."""
    values = [min(max(v, 0.0), 1.0) for v in _finite(fractions)]
    if len(values) == 1:
        values = values * 2
    return _scale(values, 0.0, 1.0, width, height, 3, log=False)


def line_chart(curves: dict[str, Sequence[float]], width: int = 320,
               height: int = 140) -> LineChart:
    """Several curves on shared axes (log scale when they span more than two decades)."""
    clean = {name: _finite(values) for name, values in curves.items()}
    everything = [v for values in clean.values() for v in values]
    if not everything:
        return LineChart(width, height, (), 0.0, 0.0, False)
    lo, hi = min(everything), max(everything)
    log = lo > 0 and hi / lo > 100
    series = tuple((name, _scale(values, lo, hi, width, height, 8, log))
                   for name, values in clean.items() if values)
    return LineChart(width, height, series, lo, hi, log)
