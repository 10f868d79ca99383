"""Notebook versions of the ``.py`` stubs (``loopgrader build student --notebooks``).

The ``.py`` stub stays the single source: its module docstring becomes the first markdown cell,
its imports and constants one code cell, and each function or class a markdown cell (its
docstring) followed by a code cell (its code, with the TODO and ``raise NotImplementedError``);
a last cell runs the check from inside the notebook. Graded as a notebook, the untouched stub is
"not started", exactly like the ``.py``.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["stub_code_fingerprint", "stub_notebook", "stub_notebook_text"]

CHECK_CELL = "%load_ext loopgrader\n%loopgrader check {lesson}"
CHECK_NOTE = ("## Check your work\n\nSave the notebook first (Ctrl+S / File > Save): the check "
              "grades the saved file. Or, in a terminal: `loopgrader check {lesson}`.")


def stub_notebook(source: str, lesson: str) -> Any:
    """The notebook (nbformat 4) made from the ``.py`` stub ``source`` of ``lesson``."""
    import nbformat

    v4: Any = nbformat.v4
    tree = ast.parse(source)
    lines = source.splitlines()
    cells: list[Any] = []
    setup: list[str] = []
    for stmt in tree.body:
        if _docstring(stmt) is not None and stmt is tree.body[0]:
            cells.append(v4.new_markdown_cell(_docstring(stmt)))
            continue
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            setup.append("\n".join(lines[_first(stmt) - 1:stmt.end_lineno]))
            continue
        if setup:
            cells.append(v4.new_code_cell("\n".join(setup)))
            setup = []
        doc = ast.get_docstring(stmt)
        if doc:
            cells.append(v4.new_markdown_cell(f"### `{stmt.name}`\n\n{doc}"))
        cells.append(v4.new_code_cell(_without_docstring(stmt, lines)))
    if setup:
        cells.append(v4.new_code_cell("\n".join(setup)))
    cells.append(v4.new_markdown_cell(CHECK_NOTE.format(lesson=lesson)))
    cells.append(v4.new_code_cell(CHECK_CELL.format(lesson=lesson)))
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def stub_notebook_text(source: str, lesson: str) -> str:
    """:func:`stub_notebook` as the text of an ``.ipynb`` file."""
    import nbformat

    writes: Any = nbformat.writes
    return str(writes(stub_notebook(source, lesson))) + "\n"


def stub_code_fingerprint(source: str, lesson: str) -> str:
    """Fingerprint of the code the generated notebook stub is graded as (``--only-started``
    compares a student's notebook with it)."""
    from loopgrader.course.notebook import convert_notebook
    from loopgrader.course.stubs import fingerprint_text

    return fingerprint_text(convert_notebook(stub_notebook(source, lesson), "stub.ipynb").source)


def _first(stmt: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _docstring(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
            isinstance(stmt.value.value, str):
        return stmt.value.value.strip()
    return None


def _without_docstring(stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
                       lines: list[str]) -> str:
    """The definition's source with its docstring taken out (it is in the markdown cell)."""
    first, last = _first(stmt), stmt.end_lineno or stmt.lineno
    doc = stmt.body[0] if stmt.body and _docstring(stmt.body[0]) is not None else None
    if doc is None or len(stmt.body) == 1:  # a body of only a docstring keeps it (valid code)
        return "\n".join(lines[first - 1:last])
    skip = range(doc.lineno, (doc.end_lineno or doc.lineno) + 1)
    return "\n".join(line for number, line in enumerate(lines[first - 1:last], start=first)
                     if number not in skip)
