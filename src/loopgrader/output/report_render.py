"""The progress report as text, Markdown, HTML (one self-contained file) or JSON."""

from __future__ import annotations

import json
from typing import Any

import jinja2

from loopgrader.output.charts import LineChart, line_chart, sparkline
from loopgrader.output.report import LessonRow, Report, ScorePoint

__all__ = ["FORMATS", "render_report"]

FORMATS = ("text", "markdown", "html", "json")
COLOURS = {"student": "#2b6cb0", "reference": "#a0aec0", "yours": "#2b6cb0"}


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _score(point: ScorePoint | None) -> str:
    return "—" if point is None else f"{point.score:g}/{point.max_score:g}"


def _spark(lesson: LessonRow) -> str:
    return sparkline([p.fraction for p in lesson.history]) if len(lesson.history) > 0 else ""


def _chart(curve: dict[str, Any]) -> LineChart:
    return line_chart({str(k): v for k, v in curve.items() if isinstance(v, list)})


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loopgrader.output", "templates"),
                             autoescape=autoescape, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=_pct, score=_score, spark=_spark, chart_for=_chart, md=_md,
                       colour=lambda name: COLOURS.get(name, "#805ad5"))
    return env


def _text(report: Report) -> str:
    lines = [f"{report.course}" + (f" — {report.student}" if report.student else ""),
             f"{_pct(report.completion)} of the built lessons passed · {report.attempts} "
             "attempts"]
    for problem in report.problems:
        lines.append(f"warning: {problem}")
    if report.empty:
        lines.append("\nNothing checked yet. Start with: loopgrader check 1.1")
    header = (f"  {'lesson':<6} {'exercise':>9} {'quiz':>7} {'tries':>5}  "
              f"{'last attempt':<16}  status")
    for module in report.modules:
        lines += ["", f"Module {module.number} — {module.title} ({_pct(module.completion)})",
                  header]
        for lesson in module.lessons:
            exercise = _score(lesson.exercise_best) if lesson.has_exercise else "—"
            quiz = _score(lesson.quiz_best) if lesson.has_quiz else "—"
            tries = lesson.exercise_attempts + lesson.quiz_attempts
            last = (lesson.last_attempt or "—")[:16].replace("T", " ")
            lines.append(f"  {lesson.id:<6} {exercise:>9} {quiz:>7} {tries:>5}  {last:<16}  "
                         f"{lesson.status}")
    return "\n".join(lines)


def render_report(report: Report, fmt: str) -> str:
    """``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=1)
    if fmt == "text":
        return _text(report)
    name = {"markdown": "report.md.j2", "html": "report.html.j2"}[fmt]
    return _environment(autoescape=fmt == "html").get_template(name).render(report=report)
