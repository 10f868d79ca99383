"""Geometry for the report's inline SVG charts: numbers in, point lists and ticks out (no markup
here). Loss curves share one pair of axes, with ticks, a log scale when they span more than two
decades, and the reference drawn dashed under the student's line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LineChart", "Series", "line_chart", "sparkline"]

LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 36


@dataclass(frozen=True)
class Series:
    name: str
    points: str  # "x,y x,y ..." in the chart's box
    dashed: bool
    count: int
    last: float


@dataclass(frozen=True)
class LineChart:
    """Polylines scaled to a ``width`` × ``height`` box, with the plot area and its ticks."""

    width: int
    height: int
    series: tuple[Series, ...]
    y_min: float
    y_max: float
    log_scale: bool
    x_ticks: tuple[tuple[float, str], ...] = ()  # (x position, label)
    y_ticks: tuple[tuple[float, str], ...] = ()  # (y position, label)
    plot: tuple[int, int, int, int] = (LEFT, TOP, 0, 0)  # x, y, width, height
    same: bool = False  # every series has the same values (lines drawn on top of each other)


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


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_chart(curves: dict[str, Sequence[float]], width: int = 420,
               height: int = 220) -> LineChart:
    """Several curves (student, reference) on shared axes; x is the step (index)."""
    clean = {name: _finite(values) for name, values in curves.items()}
    clean = {name: values for name, values in clean.items() if values}
    if not clean:
        return LineChart(width, height, (), 0.0, 0.0, False)
    everything = [v for values in clean.values() for v in values]
    lo, hi = min(everything), max(everything)
    log = lo > 0 and hi / lo > 100
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo * 0.9, hi * 1.1) if lo > 0 \
            else (lo * 1.1, hi * 0.9)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    f = (lambda v: math.log10(max(v, 1e-12))) if log else (lambda v: v)
    a, b = f(lo), f(hi)
    span = (b - a) or 1.0
    steps = max(len(v) for v in clean.values())

    def x_at(i: float) -> float:
        return LEFT + i / max(steps - 1, 1) * plot_w

    def y_at(value: float) -> float:
        return TOP + plot_h - (f(value) - a) / span * plot_h

    ordered = sorted(clean.items(), key=lambda item: item[0] != "reference")  # reference first
    series = tuple(Series(name, " ".join(f"{x_at(i):.1f},{y_at(v):.1f}"
                                         for i, v in enumerate(values)),
                          name == "reference", len(values), values[-1])
                   for name, values in ordered)
    if log:
        y_values = [10.0 ** k for k in range(math.ceil(a - 1e-9), math.floor(b + 1e-9) + 1)]
        stride = math.ceil(len(y_values) / 5)
        y_values = y_values[::-1][::stride][::-1] if len(y_values) >= 2 else [lo, hi]
    else:
        y_values = _nice_ticks(lo, hi)
    y_ticks = tuple((round(y_at(v), 1), _label(v)) for v in y_values if lo <= v <= hi * 1.0001)
    x_values = [round(t) for t in _nice_ticks(1, steps, 4) if 1 <= t <= steps] or [1]
    if x_values[0] != 1 and (x_values[0] - 1) / max(steps - 1, 1) > 0.08:
        x_values = [1, *x_values]
    x_ticks = tuple((round(x_at(i - 1), 1), str(i)) for i in x_values)
    values = list(clean.values())
    same = len(values) > 1 and all(v == values[0] for v in values[1:])
    return LineChart(width, height, series, min(everything), max(everything), log, x_ticks,
                     y_ticks, (LEFT, TOP, plot_w, plot_h), same)
