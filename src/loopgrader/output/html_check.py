"""A check report as an HTML table, for Jupyter's inline display (``loopgrader.notebook``).

Everything that comes from a submission or a grader (names, messages, hints, notes) is escaped:
a student's exception message can never inject markup into the notebook.
"""

from __future__ import annotations

import time
from html import escape

from loopgrader.grading.check import CheckReport, LessonCheck
from loopgrader.output.points import points as _pts

__all__ = ["check_html", "error_html"]

PASS, FAIL = "✓", "✗"
STYLE = "border-collapse:collapse;text-align:left;font-size:0.9em"
CELL = "padding:2px 8px;border-bottom:1px solid #ddd;vertical-align:top;white-space:pre-wrap"


def check_html(report: CheckReport) -> str:
    """Per lesson: a heading with its status, a table of its tests, its notes and quiz."""
    parts = [_lesson_html(check) for check in report.checks]
    if report.not_started:
        parts.append(f"<p>Not started yet (skipped): "
                     f"{escape(', '.join(lesson.id for lesson in report.not_started))}</p>")
    if report.not_built:
        parts.append(f"<p>Not built yet (nothing to check): "
                     f"{escape(', '.join(lesson.id for lesson in report.not_built))}</p>")
    parts.append(f"<p><b>Total: {_pts(report.score)}/{_pts(report.max_score)} points</b> "
                 f"on {escape(report.device)} in {report.duration_s:.1f} s</p>")
    return "<div class='loopgrader'>" + "\n".join(parts) + "</div>"


def error_html(message: str, hint: str | None) -> str:
    """An error loopgrader reports (no course found, unknown lesson, ...)."""
    text = f"<p style='color:#b00'><b>Error:</b> {escape(message)}</p>"
    return text + (f"<p>{escape(hint)}</p>" if hint else "")


def _lesson_html(check: LessonCheck) -> str:
    lesson, result = check.lesson, check.exercise
    head = f"Lesson {lesson.id} — {lesson.title}"
    rows: list[str] = []
    if result is None:
        head += ": quiz only"
    else:
        head += f": {result.status} ({_pts(result.score)}/{_pts(result.max_score)})"
        problem = result.import_error or result.missing_file
        if problem:
            rows.append(f"<p>{escape(problem)}</p>")
        else:
            rows.append(_tests_table(check))
    notes = check.source.notes if check.source else ()
    saved = _saved_at(check)
    if saved:
        rows.append(f"<p><i>{escape(saved)}</i></p>")
    if notes:
        rows.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>")
    if check.quiz is not None:
        quiz = check.quiz
        text = (f"Quiz: {_pts(quiz.score)}/{_pts(check.quiz_max)}" if quiz.result else
                quiz.problem or f"Quiz: not answered yet — take it with `loopgrader quiz "
                                f"{lesson.id}`")
        rows.append(f"<p>{escape(text)}</p>")
    rows += [f"<p>advice (no points): {escape(line)}</p>" for line in check.advice]
    return f"<h4>{escape(head)}</h4>" + "\n".join(rows)


def _saved_at(check: LessonCheck) -> str | None:
    """When the graded file was saved: unsaved edits in an open notebook are not graded."""
    path = check.source.path if check.source else None
    try:
        stamp = path.stat().st_mtime if path is not None else None
    except OSError:
        return None
    if path is None or stamp is None:
        return None
    return f"graded {path.name} as saved at {time.strftime('%H:%M:%S', time.localtime(stamp))}" \
        " (save the notebook before checking)"


def _tests_table(check: LessonCheck) -> str:
    assert check.exercise is not None
    header = "".join(f"<th style='{CELL}'>{name}</th>"
                     for name in ("", "points", "test", "message", "hint"))
    body = []
    for test in check.exercise.tests:
        mark = f"<span style='color:{'#080' if test.passed else '#b00'}'>" \
               f"{PASS if test.passed else FAIL}</span>"
        cells = [mark, f"{_pts(test.score)}/{_pts(test.max_score)}", escape(test.name),
                 "" if test.passed else escape(test.message or ""),
                 "" if test.passed else escape(test.hint or "")]
        body.append("<tr>" + "".join(f"<td style='{CELL}'>{c}</td>" for c in cells) + "</tr>")
    return f"<table style='{STYLE}'><tr>{header}</tr>{''.join(body)}</table>"
