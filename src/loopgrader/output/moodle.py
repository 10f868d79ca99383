"""Moodle's grade import CSV (Grades → Import → CSV file).

Moodle imports a CSV whose first row names the columns; on its preview page the instructor maps
one identifying column to a user field ("Email address" → ``useremail``, or "ID number" →
``useridnumber``) and each grade column to a grade item (or "new grade item"). The layout
follows Moodle's own CSV grade export, which its importer is documented to read back:

    First name,Last name,ID number,Email address,<lesson column>,...
    Jane,Doe,S001,jane@example.edu,18.5,...

Unlike Canvas there is no points row (a grade item's maximum is set in Moodle). A blank cell
imports no grade; Moodle compares email addresses case-sensitively, so they are written
exactly as the roster gives them.

Source: MoodleDocs, "Grade import" (https://docs.moodle.org/311/en/Grade_import, CSV grade
import and its mapping tips; the same text in earlier versions' pages).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["MOODLE_HEADER", "MoodleStudent", "moodle_csv"]

MOODLE_HEADER = ("First name", "Last name", "ID number", "Email address")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class MoodleStudent(Protocol):
    """What the Moodle file reads of a roster entry."""

    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def sis_id(self) -> str: ...
    @property
    def email(self) -> str: ...


def moodle_csv(columns: Sequence[tuple[str, str]], people: Sequence[MoodleStudent],
               scores: Mapping[tuple[int, str], float]) -> str:
    """The file: ``columns`` are (lesson, column name); ``scores`` maps (index into
    ``people``, lesson) to the score to import (absent: blank cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*MOODLE_HEADER, *(name for _, name in columns)])
    for index, person in enumerate(people):
        cells = [_text(person.first_name), _text(person.last_name), person.sis_id, person.email]
        cells += [f"{round(scores[index, lesson], 2):g}" if (index, lesson) in scores else ""
                  for lesson, _ in columns]
        writer.writerow(cells)
    return buffer.getvalue()


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value
