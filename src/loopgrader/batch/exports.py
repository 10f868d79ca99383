"""What a batch hands out, all rebuilt from the gradebook (so they always agree with it):

- ``grades_wide.csv``: one row per student, a column per lesson, a total (LMS import) and
  ``integrity``: the lessons whose points were withheld for integrity;
- ``grades_long.csv``: ``student,lesson,score,max_score,status,integrity``, one row per pair
  (``integrity``: why points were withheld, empty for ordinary results);
- ``results/<student>/results.json``: Gradescope's results format;
- ``feedback/<student>.md`` and ``.html``: each failing test's message and hint;
- ``item_analysis.csv`` and ``.md``: per lesson, the tests that fail most often.

Every file is written atomically. Text from student code (messages) is escaped in HTML, fenced
in Markdown, and CSV cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from loopgrader import __version__
from loopgrader._fs import atomic_write_text
from loopgrader.batch.stage import safe_name
from loopgrader.batch.term_exports import (
    ExportTerm,
    export_term,
    gradescope_visibility,
    lesson_view,
    lms_files,
    results_visibility,
)
from loopgrader.course.catalog import Course
from loopgrader.output import gradescope
from loopgrader.output.points import points as _pts
from loopgrader.records.gradebook import PairRecord, open_gradebook
from loopgrader.status import PairStatus

__all__ = ["ItemStat", "export_gradebook", "gradescope_results", "item_analysis", "write_exports"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GRADED_STATUSES = (PairStatus.GRADED, PairStatus.TIMED_OUT, PairStatus.CRASHED, PairStatus.ERROR)


@dataclass(frozen=True)
class ItemStat:
    """One grader test across the class."""

    lesson: str
    node_id: str
    name: str
    failed: int
    graded: int
    top_category: str

    @property
    def fail_rate(self) -> float:
        return self.failed / self.graded if self.graded else 0.0


def write_exports(course: Course, pairs: Sequence[PairRecord], out: Path,
                  term: ExportTerm | None = None) -> list[Path]:
    """Write every export of ``pairs`` under ``out``; returns the files written."""
    term = term or ExportTerm()
    order = {lesson.id: i for i, lesson in enumerate(course.lessons)}
    lessons = sorted({p.lesson for p in pairs}, key=lambda x: order.get(x, len(order)))
    by_student: dict[str, list[PairRecord]] = defaultdict(list)
    for pair in pairs:
        by_student[pair.student].append(pair)
    dated = not term.legacy or any(p.final_score is not None for p in pairs)
    written = [_write(out / "grades_wide.csv", _wide_csv(by_student, lessons, dated)),
               _write(out / "grades_long.csv", _long_csv(pairs, dated))]
    if term.roster is not None:
        written += [_write(out / name, text)
                    for name, text in lms_files(course, pairs, term.roster).items()]
    stats = item_analysis(pairs)
    written += [_write(out / "item_analysis.csv", _items_csv(stats)),
                _write(out / "item_analysis.md", _items_md(course, stats))]
    env = _environment()
    for student, mine in sorted(by_student.items()):
        mine.sort(key=lambda p: order.get(p.lesson, len(order)))
        name = safe_name(student)
        written.append(_write(out / "results" / name / "results.json",
                              json.dumps(gradescope_results(mine, term), indent=1)))
        page = _page(course, student, mine, term)
        for ext in ("md", "html"):
            text = env.get_template(f"feedback.{ext}.j2").render(**page)
            written.append(_write(out / "feedback" / f"{name}.{ext}", text))
    return written


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def _wide_csv(by_student: dict[str, list[PairRecord]], lessons: list[str], dated: bool) -> str:
    """Scores that count (after late penalties); with a calendar, also the raw scores and the
    days late, after the total; last, ``integrity``: the lessons whose points were withheld."""
    header: list[object] = ["student", *[f"lesson {x}" for x in lessons], "total"]
    if dated:
        header += [*[f"lesson {x} raw" for x in lessons], "total raw",
                   *[f"lesson {x} days late" for x in lessons]]
    header.append("integrity")
    rows: list[list[object]] = [header]
    for student, pairs in sorted(by_student.items()):
        mine = {p.lesson: p for p in pairs}
        finals = {x: p.final for x, p in mine.items()}
        row: list[object] = [student, *[_pts(finals.get(x)) for x in lessons],
                             _pts(sum(finals.values()))]
        if dated:
            raws = {x: p.score for x, p in mine.items()}
            row += [*[_pts(raws.get(x)) for x in lessons], _pts(sum(raws.values())),
                    *[mine[x].days_late if x in mine else "" for x in lessons]]
        row.append(" ".join(x for x in sorted(mine) if mine[x].integrity))
        rows.append(row)
    return _csv(rows)


LONG_TERM = ["raw_score", "submitted_at", "submitted_source", "due_at", "days_late", "penalty"]


def _long_csv(pairs: Sequence[PairRecord], dated: bool) -> str:
    """``score`` is the score that counts; with a calendar, the raw score and lateness too;
    last, ``integrity``: why points were withheld (empty for ordinary results)."""
    rows: list[list[object]] = [["student", "lesson", "score", "max_score", "status",
                                 *(LONG_TERM if dated else []), "integrity"]]
    for p in sorted(pairs, key=lambda p: (p.student, p.lesson)):
        row: list[object] = [p.student, p.lesson, _pts(p.final), _pts(p.max_score), p.status]
        if dated:
            row += [_pts(p.score), p.submitted_at, p.submitted_source, p.due_at, p.days_late,
                    _pts(p.penalty)]
        row.append(p.integrity.splitlines()[0] if p.integrity else "")
        rows.append(row)
    return _csv(rows)


def item_analysis(pairs: Sequence[PairRecord]) -> list[ItemStat]:
    """Per lesson and test: how many graded submissions failed it, most failed first."""
    seen: dict[tuple[str, str], list[int]] = {}
    names: dict[tuple[str, str], str] = {}
    categories: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for pair in pairs:
        if pair.status not in GRADED_STATUSES:
            continue
        for test in pair.tests:
            key = (pair.lesson, test.node_id or test.name)
            counts = seen.setdefault(key, [0, 0])
            counts[1] += 1
            names[key] = test.name
            if not test.passed:
                counts[0] += 1
                categories[key][test.category or "failed"] += 1
    stats = [ItemStat(lesson, node, names[(lesson, node)], failed, graded,
                      categories[(lesson, node)].most_common(1)[0][0] if failed else "")
             for (lesson, node), (failed, graded) in seen.items()]
    return sorted(stats, key=lambda s: (s.lesson, -s.failed, s.node_id))


def _items_csv(stats: list[ItemStat]) -> str:
    rows: list[list[object]] = [["lesson", "test", "node_id", "failed", "graded", "fail_rate",
                                 "most_common_failure"]]
    rows += [[s.lesson, s.name, s.node_id, s.failed, s.graded, f"{s.fail_rate:.3f}",
              s.top_category] for s in stats]
    return _csv(rows)


def _items_md(course: Course, stats: list[ItemStat]) -> str:
    titles = {lesson.id: lesson.title for lesson in course.lessons}
    lines = ["# Item analysis", "", "Tests that fail most often, per lesson (graded "
             "submissions only).", ""]
    for lesson in sorted({s.lesson for s in stats}, key=lambda x: [int(p) for p in x.split(".")]):
        lines += [f"## {lesson} — {_md_cell(titles.get(lesson, ''))}", "",
                  "| failed | of | rate | test | most common failure |",
                  "| ---: | ---: | ---: | --- | --- |"]
        lines += [f"| {s.failed} | {s.graded} | {s.fail_rate:.0%} | {_md_cell(s.name)} | "
                  f"{s.top_category} |" for s in stats if s.lesson == lesson]
        lines.append("")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gradescope_results(pairs: Sequence[PairRecord],
                       term: ExportTerm | None = None) -> dict[str, Any]:
    """One student's results in Gradescope's ``results.json`` format (``score``: after late
    penalties; hidden tests as the term's release allows)."""
    term = term or ExportTerm()
    tests: list[dict[str, Any]] = []
    for pair in pairs:
        tests += _gradescope_tests(pair, term)
    views = {p.lesson: lesson_view(term, p) for p in pairs}
    overall: dict[str, Any] = {}
    if (visibility := results_visibility(term, pairs)) is not None:
        overall["visibility"] = visibility
    return gradescope.results(
        score=sum(p.final for p in pairs),
        execution_time=sum(p.duration_s for p in pairs),
        output="\n".join(f"{p.lesson}: {p.status} ({_pts(p.final)}/{_pts(p.max_score)})"
                         + (" — integrity: points withheld" if p.integrity else "")
                         if views[p.lesson].score is not None else
                         f"{p.lesson}: {p.status} (score after the release)" for p in pairs),
        tests=tests,
        extra_data={"loopgrader_version": __version__,
                    "lessons": {p.lesson: _lesson_extra(p) if views[p.lesson].score is not None
                                else {"status": p.status, "max_score": p.max_score,
                                      "released": False} for p in pairs}},
        **overall,
    )


def _lesson_extra(p: PairRecord) -> dict[str, Any]:
    extra: dict[str, Any] = {"status": p.status, "score": p.final, "max_score": p.max_score,
                             "quiz_score": p.quiz_score, "integrity": p.integrity}
    if p.final_score is not None:
        extra |= {"raw_score": p.score, "submitted_at": p.submitted_at or None,
                  "submitted_source": p.submitted_source or None, "due_at": p.due_at or None,
                  "days_late": p.days_late, "penalty": p.penalty}
    return extra


def _gradescope_tests(pair: PairRecord, term: ExportTerm) -> list[dict[str, Any]]:
    prefix = f"[{pair.lesson}] "
    tests = [gradescope_visibility(term, pair, gradescope.test_entry(t, prefix), t.visibility)
             for t in pair.tests]
    if not pair.tests and pair.exercise_max:
        tests.append(gradescope.entry(prefix + "exercise", 0.0, pair.exercise_max, passed=False,
                                      output=f"{pair.status}: {pair.message}".strip()))
    if pair.quiz_max:
        tests.append(gradescope.entry(
            prefix + "quiz", pair.quiz_score or 0.0, pair.quiz_max,
            passed=(pair.quiz_score or 0) >= pair.quiz_max,
            output="" if pair.quiz_score is not None else "no answers submitted"))
    return tests


def _page(course: Course, student: str, pairs: list[PairRecord],
          term: ExportTerm) -> dict[str, Any]:
    titles = {lesson.id: lesson.title for lesson in course.lessons}
    views = {p.lesson: lesson_view(term, p) for p in pairs}
    shown = [v.score for v in views.values() if v.score is not None]
    return {
        "course": course.title, "student": student, "pairs": pairs, "titles": titles,
        "views": views, "withheld": len(shown) < len(views),
        "total": sum(shown), "total_max": sum(p.max_score for p in pairs),
        "generated": datetime.now(timezone.utc).isoformat(timespec="minutes"),
    }


def _fence(text: str | None) -> str:
    """``text`` in a Markdown code fence longer than any backtick run inside it."""
    body = (text or "").rstrip()
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loopgrader.output", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["pts"] = _pts
    env.filters["fence"] = _fence
    env.filters["md"] = _md_cell
    return env


def export_gradebook(course: Course, out: Path, *, roster: Path | None = None,
                     now: datetime | None = None) -> list[Path]:
    """Rebuild every export from the gradebook in ``out`` (with the LMS files when a roster
    is given; hidden feedback as released at ``now``)."""
    with open_gradebook(out, create=False) as book:
        pairs = book.pairs()
        releases = book.releases()
    return write_exports(course, pairs, out, export_term(course, releases, roster, now))
