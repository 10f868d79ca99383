"""The term around a grading run: the calendar, extensions, submission times and the roster,
read and checked before anything is graded, then applied to every pair of the gradebook.

Applying the term never regrades: it recomputes each pair's submission time, due date (with
its extension), days late, penalty and final score from the gradebook's raw score, so that an
extension granted after grading needs only ``loopgrader grade`` run again (nothing is regraded:
the files did not change).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from loopgrader.batch.extensions import Extensions, load_extensions
from loopgrader.batch.roster import Roster, RosterMatch, load_roster, match_roster
from loopgrader.batch.submitted import SOURCES, SubmissionClock, load_manifest
from loopgrader.course.calendar import Calendar, lateness, load_calendar
from loopgrader.course.catalog import Course, Lesson
from loopgrader.errors import UsageError
from loopgrader.records.gradebook import PairRecord

__all__ = ["Term", "TermOptions", "apply_term", "find_lesson_file", "load_term"]

MAX_WALK = 20_000


@dataclass(frozen=True)
class TermOptions:
    """The term files named on the command line (all optional)."""

    roster: Path | None = None
    extensions: Path | None = None
    manifest: Path | None = None
    submitted_from: str | None = None  # manifest | git | file; default: manifest if given


@dataclass(frozen=True)
class Term:
    """Everything checked and ready to apply."""

    calendar: Calendar = field(default_factory=Calendar)
    extensions: Extensions = field(default_factory=Extensions)
    clock: SubmissionClock = field(default_factory=SubmissionClock)
    roster: Roster | None = None
    roster_match: RosterMatch | None = None

    @property
    def active(self) -> bool:
        """Whether anything of the term changes a score (else rows stay as without one)."""
        return bool(self.calendar.due) or bool(self.extensions.rows)


def load_term(course: Course, options: TermOptions, students: Sequence[str]) -> Term:
    """Read and check every term file; a UsageError (exit 2) names the file, line and fix."""
    lesson_ids = {lesson.id for lesson in course.lessons}
    calendar = load_calendar(course.manifest, lesson_ids)
    source = options.submitted_from or ("manifest" if options.manifest else "file")
    if source not in SOURCES:
        raise UsageError(f"--submitted-from: expected one of {', '.join(SOURCES)}, got "
                         f"{source!r}")
    if source == "manifest" and options.manifest is None:
        raise UsageError("--submitted-from manifest needs --manifest FILE (a CSV with "
                         "student,submitted_at)")
    manifest = load_manifest(options.manifest, lessons=lesson_ids) if options.manifest else {}
    roster = load_roster(options.roster) if options.roster else None
    known = set(students) | (set(roster.people) if roster else set())
    extensions = load_extensions(options.extensions, students=known, lessons=lesson_ids) \
        if options.extensions else Extensions()
    return Term(calendar, extensions, SubmissionClock(source, manifest), roster,
                match_roster(roster, students) if roster else None)


def apply_term(term: Term, pair: PairRecord, lesson: Lesson, entry: Path | None) -> PairRecord:
    """``pair`` with its term columns computed (``entry``: the student's submission)."""
    due = term.extensions.due(term.calendar, pair.student, pair.lesson)
    submitted = None
    source = ""
    if entry is not None and pair.status != "not submitted":
        lesson_file = find_lesson_file(entry, lesson) if entry.is_dir() else None
        found = term.clock.submitted(pair.student, pair.lesson, entry, lesson_file)
        submitted, source = found.at, found.source
    late = lateness(due, submitted, term.calendar.policy)
    final = late.final_score(pair.score, pair.max_score)
    return replace(pair, submitted_at=_iso(submitted), submitted_source=source,
                   due_at=_iso(due), days_late=late.days_late,
                   penalty=round(pair.score - final, 6), final_score=final)


def find_lesson_file(folder: Path, lesson: Lesson) -> Path | None:
    """The lesson's file in a submission folder, found as grading finds it (``<id>/<file>``
    at any depth, the shallowest first; links are not followed)."""
    if lesson.file is None:
        return None
    best: Path | None = None
    best_notebook: Path | None = None
    notebook = lesson.file.removesuffix(".py") + ".ipynb"
    seen = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(dirs) + len(files)
        if seen > MAX_WALK:
            break
        if lesson.file in files and Path(root).name == lesson.id:
            path = Path(root) / lesson.file
            if best is None or len(path.parts) < len(best.parts):
                best = path
        if notebook in files and Path(root).name == lesson.id:
            found = Path(root) / notebook
            if best_notebook is None or len(found.parts) < len(best_notebook.parts):
                best_notebook = found
    return best or best_notebook  # a notebook-only submission: the notebook's time


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")
