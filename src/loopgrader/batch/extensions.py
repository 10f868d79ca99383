"""Extensions: a CSV of ``student,lesson,due,extra_days``, one row per extension.

``lesson`` is a lesson id or ``all``; each row gives either a new ``due`` date (ISO 8601 with a
time zone) or ``extra_days`` (a whole or decimal number of days added to the course's due
date). A row for one lesson overrides the student's ``all`` row. An unknown student or lesson,
a malformed date, both or neither of due/extra_days, or two rows for one student and lesson
stop the run before anything is graded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from loopgrader.batch.tables import Row, input_error, read_table
from loopgrader.course.calendar import Calendar, parse_timestamp

__all__ = ["Extension", "Extensions", "load_extensions"]

ALL = "all"


@dataclass(frozen=True)
class Extension:
    """One row: a new due date or extra days."""

    student: str
    lesson: str  # a lesson id or "all"
    due: datetime | None = None
    extra: timedelta | None = None
    line: int = 0


@dataclass(frozen=True)
class Extensions:
    """Every extension of a term, looked up per (student, lesson)."""

    rows: dict[tuple[str, str], Extension] = field(default_factory=dict)

    def due(self, calendar: Calendar, student: str, lesson: str) -> datetime | None:
        """The student's due date for ``lesson``: the course's, moved by their extension."""
        base = calendar.due.get(lesson)
        row = self.rows.get((student, lesson)) or self.rows.get((student, ALL))
        if row is None:
            return base
        if row.due is not None:
            return row.due
        return None if base is None or row.extra is None else base + row.extra

    def extended(self, student: str, lesson: str) -> bool:
        return (student, lesson) in self.rows or (student, ALL) in self.rows


def load_extensions(path: Path, *, students: Collection[str],
                    lessons: Collection[str]) -> Extensions:
    """Read and check the extensions CSV against the class and the course."""
    rows: dict[tuple[str, str], Extension] = {}
    for row in read_table(path, required=("student", "lesson"), any_of=("due", "extra_days"),
                          what="extensions file"):
        ext = _extension(path, row, students, lessons)
        key = (ext.student, ext.lesson)
        if key in rows:
            raise input_error(path, row.line, f"a second extension for {ext.student} and lesson "
                              f"{ext.lesson} (the first is on line {rows[key].line})",
                              "keep one row per student and lesson")
        rows[key] = ext
    return Extensions(rows)


def _extension(path: Path, row: Row, students: Collection[str],
               lessons: Collection[str]) -> Extension:
    student, lesson = row.get("student"), row.get("lesson")
    if student not in students:
        raise input_error(path, row.line, f"unknown student {student!r}",
                          "use the submission's folder name (or the roster's student column); "
                          "remove the row if the student dropped")
    if lesson != ALL and lesson not in lessons:
        raise input_error(path, row.line, f"unknown lesson {lesson!r}",
                          f"write a lesson id ({', '.join(sorted(lessons)[:6])}, ...) or all")
    due_text, days_text = row.get("due"), row.get("extra_days")
    if bool(due_text) == bool(days_text):
        raise input_error(path, row.line, "give either a new due date or extra days, not "
                          f"{'both' if due_text else 'neither'}",
                          "fill exactly one of the due and extra_days cells")
    if due_text:
        try:
            return Extension(student, lesson, due=parse_timestamp(due_text), line=row.line)
        except ValueError as exc:
            raise input_error(path, row.line, f"due: {exc}",
                              "write the date as 2026-09-14T23:59:00-04:00") from None
    try:
        days = float(days_text)
    except ValueError:
        days = -1.0
    if not 0 < days < 3650:
        raise input_error(path, row.line, f"extra_days: expected a positive number of days, "
                          f"got {days_text!r}", "write e.g. 2 or 1.5")
    return Extension(student, lesson, extra=timedelta(days=days), line=row.line)
