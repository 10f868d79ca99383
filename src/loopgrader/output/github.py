"""GitHub Actions output (the only module that knows it): error annotations pointing into the
student's file, and a Markdown summary for the job's step summary."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from loopgrader.grading.check import CheckReport

__all__ = ["error_annotations", "step_summary"]

LINE = re.compile(r", line (\d+)")
CELL = re.compile(r"cell \d+, line \d+")


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _definitions(path: Path) -> dict[str, int]:
    """Top-level function and class names of the student's file → their line."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
    return {node.name: node.lineno for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _line_for(message: str, test_name: str, definitions: dict[str, int]) -> int | None:
    found = LINE.search(message)
    if found:
        return int(found.group(1))
    for word in re.findall(r"\w+", f"{test_name} {message}"):
        if word in definitions:
            return definitions[word]
    return None


def error_annotations(report: CheckReport, submission_root: Path,
                      workspace: Path) -> list[str]:
    """``::error file=…,line=…,title=…::message`` lines, one per failing test."""
    lines: list[str] = []
    for check in report.checks:
        if check.exercise is None or check.lesson.file is None:
            continue
        path = submission_root / check.lesson.id / check.lesson.file
        notebook = check.source is not None and check.source.is_notebook
        if notebook and check.source is not None and check.source.path is not None:
            path = check.source.path  # annotations name the cell: lines of the JSON mean nothing
        try:
            shown = path.resolve().relative_to(workspace.resolve())
        except ValueError:
            shown = path
        definitions = {} if notebook else _definitions(path)
        for test in check.exercise.tests:
            if test.passed:
                continue
            message = test.message or "failed"
            line = None if notebook else _line_for(message, test.name, definitions)
            where = f"file={_escape(str(shown), prop=True)}"
            if line is not None:
                where += f",line={line}"
            cell = CELL.search(message) if notebook else None
            title = f"{check.lesson.id}: {test.name}" + (f" ({cell.group(0)})" if cell else "")
            title = _escape(title, prop=True)
            body = message + (f"\nhint: {test.hint}" if test.hint else "")
            lines.append(f"::error {where},title={title}::{_escape(body)}")
    return lines


def step_summary(report: CheckReport) -> str:
    """A Markdown table of the check for ``$GITHUB_STEP_SUMMARY``."""
    rows = ["## loopgrader", "", "| Lesson | Status | Score |", "| --- | --- | --- |"]
    for check in report.checks:
        status = check.exercise.status if check.exercise else (
            "passed" if check.passed else "quiz to answer")
        rows.append(f"| {check.lesson.id} {check.lesson.title} | {status} | "
                    f"{check.score:g}/{check.max_score:g} |")
    rows += ["", f"**Total: {report.score:g}/{report.max_score:g}**"]
    failing = [(c.lesson.id, t) for c in report.checks if c.exercise
               for t in c.exercise.tests if not t.passed]
    if failing:
        rows += ["", "<details><summary>Failing checks</summary>", ""]
        rows += [f"- **{lesson}** {t.name}: {(t.message or '').splitlines()[0]}"
                 for lesson, t in failing[:50]]
        rows += ["", "</details>"]
    return "\n".join(rows) + "\n"
