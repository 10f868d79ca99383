"""Regrades you can explain: what changed between two grading runs of one gradebook.

Every ``loopgrader grade`` run records the result of each pair it graded (and the final score
it computed for each pair); the state of the gradebook "as of run N" is each pair's latest
record at or before N. :func:`compare_runs` lists the pairs whose raw or final score differs
between two such states, by how much, and which tests flipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from loopgrader.errors import UsageError
from loopgrader.records.gradebook import Gradebook, RunResult

__all__ = ["ScoreChange", "compare_runs", "latest_runs", "regrades_csv"]


@dataclass(frozen=True)
class ScoreChange:
    """One (student, lesson) whose score differs between two runs."""

    student: str
    lesson: str
    before: RunResult | None  # None: not graded as of the first run
    after: RunResult

    @property
    def delta(self) -> float:
        return self.after.final - (self.before.final if self.before else 0.0)

    @property
    def raw_delta(self) -> float:
        return self.after.score - (self.before.score if self.before else 0.0)

    @property
    def now_passing(self) -> tuple[str, ...]:
        old = self.before.tests if self.before else {}
        return tuple(sorted(t for t, ok in self.after.tests.items() if ok and not old.get(t)))

    @property
    def now_failing(self) -> tuple[str, ...]:
        old = self.before.tests if self.before else {}
        return tuple(sorted(t for t, ok in self.after.tests.items()
                            if not ok and old.get(t, False)))

    def describe(self) -> str:
        before = f"{self.before.final:g}" if self.before else "not graded"
        parts = [f"{self.student} {self.lesson}: {before} -> {self.after.final:g} "
                 f"({self.delta:+g})"]
        if self.raw_delta != self.delta:
            parts.append(f"raw {self.raw_delta:+g}")
        if self.now_passing:
            parts.append(f"now passing: {', '.join(self.now_passing)}")
        if self.now_failing:
            parts.append(f"now failing: {', '.join(self.now_failing)}")
        return "; ".join(parts)


def latest_runs(book: Gradebook) -> tuple[int, int]:
    """The ids of the last two runs that graded something."""
    ids = [run[0] for run in book.runs()]
    graded = [i for i in ids if book.results_as_of(i) != book.results_as_of(i - 1)]
    if len(graded) < 2:
        raise UsageError(f"{book.path}: fewer than two grading runs recorded results, so "
                         "there is nothing to compare",
                         hint="regrade (e.g. `loopgrader grade ... --force`) after fixing a "
                              "grader, then compare")
    return graded[-2], graded[-1]


def compare_runs(book: Gradebook, before: int, after: int) -> list[ScoreChange]:
    """Pairs whose raw or final score differs between the states as of two runs."""
    known = {run[0] for run in book.runs()}
    for run_id in (before, after):
        if run_id not in known:
            raise UsageError(f"{book.path}: no run {run_id} in this gradebook",
                             hint=f"runs: {', '.join(str(i) for i in sorted(known)) or 'none'}")
    old, new = book.results_as_of(before), book.results_as_of(after)
    changes = []
    for key in sorted(new):
        previous = old.get(key)
        current = new[key]
        if previous is None or (previous.score, previous.final) != (current.score,
                                                                    current.final):
            changes.append(ScoreChange(key[0], key[1], previous, current))
    return changes


def regrades_csv(changes: Sequence[ScoreChange]) -> str:
    """``student,lesson,before,after,change,raw_change,now_passing,now_failing``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student", "lesson", "before", "after", "change", "raw_change",
                     "now_passing", "now_failing"])
    for change in changes:
        student = f"'{change.student}" if change.student.startswith(("=", "+", "-", "@")) \
            else change.student
        writer.writerow([student, change.lesson,
                         "" if change.before is None else f"{change.before.final:g}",
                         f"{change.after.final:g}", f"{change.delta:+g}",
                         f"{change.raw_delta:+g}", " ".join(change.now_passing),
                         " ".join(change.now_failing)])
    return buffer.getvalue()
