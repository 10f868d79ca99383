"""Helpers for the notebook tests: a copy of the bundled course, and notebooks built from .py
code the way students write them (a cell per function, demo cells, magics, a shell escape)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
REFERENCE_12 = REPO / "graders/1.2/reference/linear_regression.py"
# A real bug that raises inside the student's code (X @ r instead of X.T @ r: shapes mismatch).
BUGGY_12 = REFERENCE_12.read_text(encoding="utf-8").replace("(X.T @ residual)", "(X @ residual)")


def course_copy(target: Path) -> Path:
    """The bundled course (manifest, stubs, graders, quizzes) copied to ``target``, so checks
    record their attempts there and never in the repository."""
    target.mkdir(parents=True)
    shutil.copy(REPO / "course.yaml", target / "course.yaml")
    for folder in ("exercises", "graders", "quizzes"):
        shutil.copytree(REPO / folder, target / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return target


def notebook_from_code(code: str, *, demos: bool = True) -> Any:
    """A notebook holding ``code``: the module docstring as markdown, imports in one cell, one
    cell per top-level definition; with ``demos``, magics, a shell escape and demo cells that
    must not run at grading (they would fail or take long)."""
    tree = ast.parse(code)
    lines = code.splitlines()
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell("# My work for this lesson")]
    head: list[str] = ["%matplotlib inline", "!pip install torch"] if demos else []
    for stmt in tree.body:
        text = "\n".join(lines[stmt.lineno - 1:stmt.end_lineno])
        if isinstance(stmt, ast.Expr):
            continue  # the module docstring
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            head.append(text)
            continue
        if head:
            cells.append(v4.new_code_cell("\n".join(head)))
            head = []
        cells.append(v4.new_code_cell(text))
        if demos:
            cells.append(v4.new_code_cell(
                "X = torch.randn(50, 3)\nprint('demo run')\nraise SystemExit('demo cells must "
                "not run when grading')", execution_count=len(cells)))
    if demos:
        plot = v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])")
        plot.outputs = [v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                            "text/plain": "<Figure>"})]
        cells.append(plot)
    return v4.new_notebook(cells=cells)


def write_notebook(path: Path, notebook: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
