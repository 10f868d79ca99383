"""Canvas's gradebook CSV: the file Canvas imports through Grades → Import.

The layout is Canvas's own gradebook export, which its importer reads back:

    Student,ID,SIS User ID,SIS Login ID,Section,<assignment> (<assignment id>),...
        Points Possible,,,,,21,...
    "Doe, Jane",4711,S001,jdoe,Section A,18.5,...

- the first five columns identify the student; Canvas matches rows by ``ID`` (its numeric
  user id), else ``SIS User ID``, else ``SIS Login ID``; ``Student`` is the sortable name
  ("Last, First") and is not used for matching;
- the second row, ``    Points Possible`` (four leading spaces, as Canvas exports it), gives
  each column's points;
- one column per lesson: ``<name> (<id>)`` updates an existing Canvas assignment; a name with no
  ``(id)`` creates a new assignment on import. A parenthesis at the end of a lesson title would
  be read as an id, so it is removed from the name;
- a blank cell leaves the Canvas grade as it is.

Sources: Canvas's guides "How do I import grades in the Gradebook?" and "How do I export
grades in the Gradebook?" (community.canvaslms.com, Instructor Guide); summarised at
https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
and https://ts.vcu.edu/askit/teaching-and-learning/canvas/faculty/grading-faculty/gradebook-action-menu-faculty/
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["CANVAS_HEADER", "POINTS_POSSIBLE", "CanvasStudent", "canvas_column", "canvas_csv"]

CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CanvasStudent(Protocol):
    """What the Canvas file reads of a roster entry."""

    @property
    def sortable_name(self) -> str: ...
    @property
    def lms_id(self) -> str: ...
    @property
    def sis_id(self) -> str: ...
    @property
    def sis_login_id(self) -> str: ...
    @property
    def section(self) -> str: ...


def canvas_column(lesson: str, title: str, assignment_id: str | None = None) -> str:
    """The column of one lesson: ``1.2 The Simplest Case (123)`` with an id, else a name
    from which Canvas creates the assignment."""
    name = re.sub(r"\s*\([^()]*\)\s*$", "", f"{lesson} {title}".strip())
    return f"{name} ({assignment_id})" if assignment_id else name


def canvas_csv(columns: Sequence[tuple[str, str, float]], people: Sequence[CanvasStudent],
               scores: Mapping[tuple[int, str], float]) -> str:
    """The file: ``columns`` are (lesson, column name, points possible); ``scores`` maps
    (index into ``people``, lesson) to the score to import (absent: blank cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_HEADER, *(name for _, name, _ in columns)])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", *(_number(p) for _, _, p in columns)])
    for index, person in enumerate(people):
        cells = [_text(person.sortable_name), person.lms_id, person.sis_id, person.sis_login_id,
                 _text(person.section)]
        cells += [_number(scores[index, lesson]) if (index, lesson) in scores else ""
                  for lesson, _, _ in columns]
        writer.writerow(cells)
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def _text(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return f"'{value}" if value.startswith(FORMULA_START) else value
