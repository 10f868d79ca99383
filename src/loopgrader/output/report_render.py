"""The progress report as text, Markdown, HTML (one self-contained file) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jinja2
from markupsafe import Markup, escape

from loopgrader.output.charts import LineChart, line_chart, sparkline
from loopgrader.output.report import LessonRow, Report, ScorePoint
from loopgrader.records.result import TestResult

__all__ = ["FORMATS", "render_report"]

FORMATS = ("text", "markdown", "html", "json")
# Light-mode colours; dark mode overrides them through CSS variables (classes below).
SERIES_CLASS = {"student": "s-student", "yours": "s-student", "reference": "s-reference"}


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _score(point: ScorePoint | None) -> str:
    return "—" if point is None else f"{point.score:g}/{point.max_score:g}"


def _part(point: ScorePoint | None, status: str) -> str:
    """A part's score; "—" while it is not started (a check of the untouched stub is no score
    to show)."""
    return "—" if status in ("not started", "—") else _score(point)


def _spark(lesson: LessonRow) -> str:
    return sparkline([p.fraction for p in lesson.history]) if len(lesson.history) > 0 else ""


def _chart(curve: dict[str, Any]) -> LineChart:
    return line_chart({str(k): v for k, v in curve.items() if isinstance(v, list)})


def _trend(ratios: Sequence[float]) -> str:
    """Timing ratios over attempts, oldest first: "1.84× → 1.31× → 1.02×"."""
    return " → ".join(f"{r:.2f}×" for r in ratios[-6:])


def _points(outcome: TestResult) -> str:
    return f"{outcome.score:g}/{outcome.max_score:g}"


def _code(text: str) -> Markup:
    """`commands` in a sentence as <code>, the rest escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>%s</code>") % part if i % 2 else escape(part)
                           for i, part in enumerate(parts))


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loopgrader.output", "templates"),
                             autoescape=autoescape, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=_pct, score=_score, spark=_spark, chart_for=_chart, md=_md,
                       trend=_trend, points=_points, code=_code, part=_part,
                       series_class=lambda name: SERIES_CLASS.get(name, "s-other"))
    return env


def _lesson_text(lesson: LessonRow) -> list[str]:
    lines: list[str] = []
    failing = [t for t in lesson.latest_tests if t.status != "passed"]
    if lesson.exercise_status == "attempted" and failing:
        lines.append(f"           latest: {len(failing)} of {len(lesson.latest_tests)} tests "
                     f"failing; first: {failing[0].name}"
                     + (f" — {failing[0].message.splitlines()[0]}" if failing[0].message
                        else ""))
    for key, ratios in lesson.timing_history.items():
        lines.append(f"           timing {key}: {_trend(ratios)} the reference's time")
    answered = [q for q in lesson.quiz_questions if q.given is not None]
    if lesson.quiz_questions:
        wrong = [q for q in answered if q.status != "passed"]
        lines.append(f"           quiz: {len(answered)}/{len(lesson.quiz_questions)} answered"
                     + (f", {len(wrong)} wrong ({', '.join(q.name for q in wrong)})"
                        if wrong else ""))
    return lines


def _text(report: Report) -> str:
    done, built = report.passed_count
    lines = [f"{report.course}" + (f" — {report.student}" if report.student else ""),
             f"Overall progress {_pct(report.progress)} · {done} of {built} built lessons "
             f"passed · {report.attempts} attempts"]
    for problem in report.problems:
        lines.append(f"warning: {problem}")
    if report.empty:
        lines.append("\nNothing checked yet. Start with: loopgrader check 1.1")
    elif report.next_step:
        lines.append(f"What next: {report.next_step}")
    header = (f"  {'lesson':<6} {'exercise':>9} {'quiz':>7} {'tries':>5}  "
              f"{'last attempt':<16}  status")
    for module in report.modules:
        lines += ["", f"Module {module.number} — {module.title} ({_pct(module.completion)} "
                  "passed)", header]
        for lesson in module.lessons:
            exercise = _part(lesson.exercise_best, lesson.exercise_status)
            quiz = _part(lesson.quiz_best, lesson.quiz_status)
            tries = lesson.exercise_attempts + lesson.quiz_attempts
            last = (lesson.last_attempt or "—")[:16].replace("T", " ")
            status = lesson.status if lesson.status in ("not built yet", "not started",
                                                        "passed") else lesson.parts
            lines.append(f"  {lesson.id:<6} {exercise:>9} {quiz:>7} {tries:>5}  {last:<16}  "
                         f"{status}")
            lines += _lesson_text(lesson)
    return "\n".join(lines)


def render_report(report: Report, fmt: str) -> str:
    """``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=1)
    if fmt == "text":
        return _text(report)
    name = {"markdown": "report.md.j2", "html": "report.html.j2"}[fmt]
    return _environment(autoescape=fmt == "html").get_template(name).render(report=report)
