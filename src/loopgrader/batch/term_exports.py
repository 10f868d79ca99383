"""What the term changes in the exports: final scores after penalties, hidden feedback held back
until its release, and the files an LMS imports (Canvas, Moodle; the formats themselves are
:mod:`loopgrader.output.canvas`'s and :mod:`loopgrader.output.moodle`'s).

Release rule (:meth:`Calendar.feedback_released`): hidden tests' results (visibility
``hidden``, ``after_due_date`` or ``after_published``) are shown from a release by hand
(``loopgrader release``), else from the calendar's ``release`` time, else from the student's
own due date. Until then a student's feedback page shows the visible tests only, with the
points they earned, and ``results.json`` marks the hidden tests ``after_due_date`` (or
``after_published`` when the lesson has no due date) with their output removed. A course
without a calendar and without releases shows everything, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from loopgrader.batch.roster import Person, Roster, load_roster
from loopgrader.course.calendar import Calendar, load_calendar
from loopgrader.course.catalog import Course
from loopgrader.output.canvas import canvas_column, canvas_csv
from loopgrader.output.moodle import moodle_csv
from loopgrader.records.gradebook import PairRecord, open_gradebook
from loopgrader.records.result import TestResult

__all__ = ["ExportTerm", "LessonView", "export_term", "gradescope_visibility", "lesson_view",
           "lms_files", "results_visibility", "student_view"]

HIDDEN = ("hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class ExportTerm:
    """What the exports need of the term."""

    calendar: Calendar = field(default_factory=Calendar)
    releases: Mapping[str, datetime] = field(default_factory=dict)  # by hand, per lesson
    roster: Roster | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def legacy(self) -> bool:
        """No calendar and no release: everything shows, as before the term existed."""
        return self.calendar.empty and not self.releases

    def released(self, pair: PairRecord) -> bool:
        if self.legacy:
            return True
        due = datetime.fromisoformat(pair.due_at) if pair.due_at else None
        return self.calendar.feedback_released(pair.lesson, due, self.now, self.releases)

    def release_moment(self, pair: PairRecord) -> str:
        moment = self.releases.get(pair.lesson) or self.calendar.release.get(pair.lesson) \
            or (datetime.fromisoformat(pair.due_at) if pair.due_at else None)
        return "when your instructor releases them" if moment is None else \
            f"after {moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class LessonView:
    """One lesson as a student may see it now."""

    tests: tuple[TestResult, ...]
    score: float | None  # None: withheld until the release
    lines: tuple[str, ...]  # lateness and release notes, written for the student


def lesson_view(term: ExportTerm, pair: PairRecord) -> LessonView:
    released = term.released(pair)
    lines = [_late_line(term, pair, released)] if pair.days_late else []
    if released:
        return LessonView(pair.tests, pair.final, tuple(lines))
    shown = tuple(t for t in pair.tests if t.visibility not in HIDDEN)
    hidden = len(pair.tests) - len(shown)
    if not hidden:
        return LessonView(pair.tests, pair.final, tuple(lines))
    visible_points = sum(t.score for t in shown)
    visible_max = sum(t.max_score for t in shown)
    lines.append(f"{hidden} hidden test(s): their results and the lesson's score are shown "
                 f"{term.release_moment(pair)}. Visible tests so far: {visible_points:g} / "
                 f"{visible_max:g} points.")
    return LessonView(shown, None, tuple(lines))


def _late_line(term: ExportTerm, pair: PairRecord, released: bool) -> str:
    late = (f"Submitted {pair.submitted_at} ({pair.submitted_source} time), {pair.days_late} "
            f"day(s) after your due date {pair.due_at}: ")
    if released:
        return late + f"{pair.penalty:g} points off (raw score {pair.score:g})."
    policy = term.calendar.policy
    closed = policy.last_day is not None and pair.days_late > policy.last_day
    fraction = 1.0 if closed else min(1.0, pair.days_late * policy.penalty_per_day)
    return late + f"{fraction:.0%} of the lesson's points off."  # the raw score stays hidden


def gradescope_visibility(term: ExportTerm, pair: PairRecord, test: dict[str, object],
                          visibility: str) -> dict[str, object]:
    """A results.json test entry as the term allows it now."""
    if term.legacy or visibility not in HIDDEN:
        return test
    if term.released(pair):
        return {**test, "visibility": "visible"}
    later = "after_due_date" if pair.due_at else "after_published"
    return {**test, "visibility": later, "output": ""}


def results_visibility(term: ExportTerm, pairs: Sequence[PairRecord]) -> str | None:
    """Gradescope's top-level ``visibility`` of a student's results: while any lesson's hidden
    tests are held back, the whole result (its total score would tell) is ``after_due_date``
    (``after_published`` when such a lesson has no due date); None otherwise."""
    held = [p for p in pairs if lesson_view(term, p).score is None]
    if not held:
        return None
    return "after_due_date" if all(p.due_at for p in held) else "after_published"


def lms_files(course: Course, pairs: Sequence[PairRecord], roster: Roster) -> dict[str, str]:
    """``canvas.csv`` and ``moodle.csv``: the final score of every roster entry and lesson
    (blank where the gradebook holds nothing)."""
    graded = {p.lesson for p in pairs}
    lessons = [lesson for lesson in course.lessons if lesson.id in graded]
    people: list[Person] = [roster.people[s] for s in sorted(roster.people)]
    index = {person.student: i for i, person in enumerate(people)}
    scores = {(index[p.student], p.lesson): p.final for p in pairs if p.student in index}
    canvas_columns = [(lesson.id, canvas_column(lesson.id, lesson.title),
                       _max(pairs, lesson.id)) for lesson in lessons]
    moodle_columns = [(lesson.id, f"{lesson.id} {lesson.title}") for lesson in lessons]
    return {"canvas.csv": canvas_csv(canvas_columns, people, scores),
            "moodle.csv": moodle_csv(moodle_columns, people, scores)}


def _max(pairs: Sequence[PairRecord], lesson: str) -> float:
    return max((p.max_score for p in pairs if p.lesson == lesson), default=0.0)


def student_view(course: Course, gradebook_dir: Path,
                 now: datetime | None = None) -> Callable[[PairRecord], PairRecord]:
    """For ``report --gradebook``: each pair as its student may see it now (final scores;
    hidden tests and the score they carry left out until the release)."""
    with open_gradebook(gradebook_dir, create=False) as book:
        term = export_term(course, book.releases(), None, now)

    def view(pair: PairRecord) -> PairRecord:
        shown = lesson_view(term, pair)
        exercise = max(0.0, pair.exercise_score - pair.penalty)
        quiz = pair.quiz_score
        if quiz is not None:
            quiz = max(0.0, quiz - max(0.0, pair.penalty - pair.exercise_score))
        if shown.score is None:
            exercise = sum(t.score for t in shown.tests)
            return replace(pair, exercise=replace(
                pair.exercise, tests=shown.tests, score=exercise,
                max_score=sum(t.max_score for t in shown.tests)), quiz_score=quiz)
        return replace(pair, exercise=replace(pair.exercise, score=exercise), quiz_score=quiz)

    return view


def export_term(course: Course, releases: Mapping[str, str], roster: Path | None,
                now: datetime | None = None) -> ExportTerm:
    """The term of an export run: the course's calendar, the gradebook's releases, the roster
    (when given)."""
    calendar = load_calendar(course.manifest, {lesson.id for lesson in course.lessons})
    return ExportTerm(calendar, {k: datetime.fromisoformat(v) for k, v in releases.items()},
                      load_roster(roster) if roster else None,
                      now or datetime.now(timezone.utc))
