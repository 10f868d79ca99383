"""The similarity report of one lesson: ranked pairs (CSV) and a side-by-side HTML page of the
top pairs with the shared lines marked. Rendering only; the measuring is
:mod:`loopgrader.batch.similarity`'s, which hands over plain data."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

__all__ = ["PairRow", "SideBySide", "SimilaritySide", "similarity_csv", "similarity_html"]

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PairRow:
    a: str
    b: str
    score: float
    shared: int


@dataclass(frozen=True)
class SimilaritySide:
    name: str
    lines: Sequence[tuple[int, str, bool]]  # number, text, shared


@dataclass(frozen=True)
class SideBySide:
    a: str
    b: str
    score: float
    left: SimilaritySide
    right: SimilaritySide


def similarity_csv(pairs: Sequence[PairRow]) -> str:
    """``rank,student_a,student_b,score,shared``, best first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "student_a", "student_b", "score", "shared"])
    for rank, pair in enumerate(pairs, start=1):
        writer.writerow([rank, _cell(pair.a), _cell(pair.b), f"{pair.score:.4f}", pair.shared])
    return buffer.getvalue()


def similarity_html(lesson: str, pairs: Sequence[PairRow], views: Sequence[SideBySide],
                    skipped: Sequence[tuple[str, str]]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("similarity.html.j2").render(
        lesson=lesson, pairs=pairs, views=views, skipped=skipped)


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value
