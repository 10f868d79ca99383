"""Jupyter notebooks as submissions: the only module that knows the ``.ipynb`` format.

A notebook is turned, in the trusted process, into the Python source the worker imports. What a
notebook contributes (documented for students in docs/notebooks.md):

- Code cells are read top to bottom, as "Restart & Run All" would run them; markdown and raw
  cells are ignored. A later definition replaces an earlier one, as in a kernel.
- From each code cell, only the top-level statements that *define* the solution are kept:
  imports, functions, classes, and constants — assignments to plain names whose value calls
  nothing (literals, names, attributes, arithmetic, indexing, lambdas; ``DTYPE = torch.float64``
  is kept, ``model = Net()`` is not). ``if``/``try``/``with`` blocks made only of such
  statements are kept whole. Everything else — calls, expressions, loops, training runs, plots,
  ``if __name__ == "__main__":`` — is left out, with a note.
- An import of a module that is not installed where grading runs (``import matplotlib`` for
  plots, say) is left out with a note: code that uses it then fails when it is called.
- IPython magics (``%matplotlib inline``, ``%%time``) and shell escapes (``!pip install …``)
  are dropped with a note; the body of a ``%%time``/``%%timeit``/``%%capture`` cell is kept.
- Cell tags: ``loopgrader`` keeps the whole cell as written (magics still dropped); ``skip``
  (or ``loopgrader-skip``) leaves the cell out.
- A cell with a syntax error is left out and named with its error; the rest still counts.
- Cells are numbered from 1, top to bottom, markdown cells included; messages say
  "cell 7, line 3 in neural_net.ipynb".

``nbformat`` is imported only when a notebook is read or written, so ``check`` on ``.py`` files
starts as fast as before.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopgrader.errors import SubmissionError

__all__ = [
    "SUFFIX",
    "CellNote",
    "Conversion",
    "convert",
    "convert_notebook",
    "read_notebook",
]

SUFFIX = ".ipynb"
TAG_INCLUDE = "loopgrader"
TAGS_SKIP = ("skip", "loopgrader-skip")
BODY_CELL_MAGICS = ("time", "timeit", "capture", "prun")  # cell magics whose body is Python
MAGIC_LINE = re.compile(r"^\s*(%|!|\?)|^\s*[\w.]+\?{1,2}\s*$|^\s*[\w.,\s]+=\s*[%!]")
DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
BLOCKS = (ast.If, ast.Try, ast.With)
RUNS = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)


@dataclass(frozen=True)
class CellNote:
    """Something left out of a cell (``line`` 0: the whole cell); cells count from 1, markdown
    cells included."""

    cell: int
    line: int
    note: str

    def __str__(self) -> str:
        where = f"cell {self.cell}" + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.note}"


@dataclass(frozen=True)
class Conversion:
    """A notebook as the worker sees it: the source, and how to point back into the cells."""

    name: str  # the notebook's file name, for messages
    source: str
    line_map: tuple[tuple[int, int], ...]  # source line n (from 1) → (cell, line in the cell)
    used: tuple[int, ...]  # code cells that contributed code
    left_out: tuple[int, ...]  # non-empty code cells that contributed nothing
    notes: tuple[CellNote, ...]  # what was left out or dropped, and why

    def locate(self, line: int) -> str | None:
        """``cell 7, line 3 in neural_net.ipynb`` for a line of :attr:`source`."""
        return locate(self.name, self.line_map, line)


def locate(name: str, line_map: tuple[tuple[int, int], ...] | list[Any], line: int) -> str | None:
    """Where line ``line`` of a converted notebook came from (None when it is not in the map)."""
    if not 1 <= line <= len(line_map):
        return None
    cell, in_cell = line_map[line - 1]
    return f"cell {cell}, line {in_cell} in {name}"


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (nbformat 4), validated; a :class:`SubmissionError` naming the
    file when it is damaged or not a notebook. Bytes that are not UTF-8 (in outputs, say) are
    replaced rather than refused."""
    import nbformat
    from nbformat.reader import NotJSONError

    try:
        text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError as exc:
        raise _unreadable(path, f"cannot be read ({exc.strerror or exc})") from None
    captured: dict[str, Any] = {}
    try:
        reads: Any = nbformat.reads  # untyped
        with warnings.catch_warnings():  # e.g. cells without ids in old notebooks: harmless
            warnings.simplefilter("ignore")
            notebook = reads(text, as_version=4, capture_validation_error=captured)
    except Exception as exc:  # nbformat raises several types for damaged JSON and old formats
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        what = "is not a Jupyter notebook" if isinstance(exc, NotJSONError) or \
            not text.lstrip().startswith("{") else "is a damaged Jupyter notebook"
        raise _unreadable(path, f"{what} ({first[:200]})") from None
    error = captured.get("ValidationError")
    if error is not None:
        detail = str(getattr(error, "message", error)).splitlines()[0][:200]
        raise _unreadable(path, f"is a damaged Jupyter notebook ({detail})")
    return notebook


def _unreadable(path: Path, problem: str) -> SubmissionError:
    return SubmissionError(
        f"{path}: this file {problem}, so it cannot be graded.",
        hint="open it in Jupyter and save it again (in Colab: File > Download > Download .ipynb), "
             "or submit your code as a .py file instead")


def installed(module: str) -> bool:
    """Whether top-level ``module`` can be imported here (found, never imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def convert(path: Path, available: Callable[[str], bool] = installed) -> Conversion:
    """Read the notebook at ``path`` and convert it (see the module's rules)."""
    return convert_notebook(read_notebook(path), path.name, available)


def convert_notebook(notebook: Any, name: str,
                     available: Callable[[str], bool] = installed) -> Conversion:
    """Convert an nbformat notebook already read; ``name`` is used in messages;
    ``available(module)`` tells whether a top-level module can be imported where grading runs."""
    out = _Output(available)
    defined: dict[str, tuple[int, int]] = {}  # top-level name → cell defining it last
    used: list[int] = []
    left_out: list[int] = []
    notes: list[CellNote] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code" or not str(cell.get("source", "")).strip():
            continue
        try:
            kept = _convert_cell(number, cell, out, defined, notes)
        except (RecursionError, MemoryError):  # code nested too deeply to analyse
            notes.append(CellNote(number, 0, "left out: its code is nested too deeply to read"))
            kept = False
        (used if kept else left_out).append(number)
    return Conversion(name, out.text(), tuple(out.line_map), tuple(used), tuple(left_out),
                      tuple(sorted(notes, key=lambda note: (note.cell, note.line))))


class _Output:
    """The generated source, with ``from __future__`` imports hoisted to its top."""

    def __init__(self, available: Callable[[str], bool]) -> None:
        self.available = available
        self.future: list[tuple[str, tuple[int, int]]] = []
        self.body: list[tuple[str, tuple[int, int]]] = []

    def add(self, lines: list[str], cell: int, first_line: int, *, same_line: bool = False,
            future: bool = False) -> None:
        target = self.future if future else self.body
        for offset, line in enumerate(lines):
            target.append((line, (cell, first_line if same_line else first_line + offset)))

    @property
    def line_map(self) -> list[tuple[int, int]]:
        return [where for _, where in (*self.future, *self.body)]

    def text(self) -> str:
        return "".join(line + "\n" for line, _ in (*self.future, *self.body))


def _tags(cell: Any) -> set[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return {str(tag).strip().lower() for tag in tags} if isinstance(tags, list) else set()


def _convert_cell(number: int, cell: Any, out: _Output, defined: dict[str, tuple[int, int]],
                  notes: list[CellNote]) -> bool:
    """Add what cell ``number`` contributes to ``out`` and notes on what it left out; whether
    it contributed anything."""
    tags = _tags(cell)
    if tags & set(TAGS_SKIP):
        notes.append(CellNote(number, 0, "left out: tagged skip"))
        return False
    lines, dropped_lines = _strip_magics(str(cell.get("source", "")).splitlines())
    notes += [CellNote(number, line, note) for line, note in dropped_lines]
    if lines is None:
        return False
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes (Python < 3.12)
        notes.append(CellNote(number, getattr(exc, "lineno", 0) or 0,
                              "syntax error, so the whole cell was left out: "
                              f"{getattr(exc, 'msg', exc)}"))
        return False
    if TAG_INCLUDE in tags:
        out.add(lines, number, 1)
        _note_definitions(number, tree.body, defined, notes)
        return bool(tree.body)
    missing = {id(stmt): module for stmt in tree.body
               if (module := _missing_module(stmt, out.available)) is not None}
    notes += [CellNote(number, stmt.lineno, f"left out the import of {missing[id(stmt)]}: it is "
                                            "not installed where grading runs")
              for stmt in tree.body if id(stmt) in missing]
    kept = [stmt for stmt in tree.body if _keeps(stmt) and id(stmt) not in missing]
    dropped = [stmt for stmt in tree.body if not _keeps(stmt) or id(stmt) in missing]
    notes += [CellNote(number, stmt.lineno, _why(stmt, lines))
              for stmt in dropped if not _is_docstring(stmt) and id(stmt) not in missing]
    _add_statements(number, lines, kept, dropped, out)
    _note_definitions(number, kept, defined, notes)
    return bool(kept)


def _strip_magics(lines: list[str]) -> tuple[list[str] | None, list[tuple[int, str]]]:
    """The cell's lines with magics and shell escapes blanked out (line numbers unchanged), or
    None when the whole cell is a cell magic whose body is not Python."""
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    notes: list[tuple[int, str]] = []
    if lines and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        name = magic[0] if magic else ""
        if name not in BODY_CELL_MAGICS:
            return None, [(0, f"left out: the cell magic %%{name} (not Python)")]
        notes.append((first + 1, f"dropped the cell magic %%{name} (its body is kept)"))
        lines = [*lines[:first], "", *lines[first + 1:]]
    if _parses("\n".join(lines)):  # plain Python: a line like "% x)" continues an expression
        return lines, notes
    cleaned: list[str] = []
    for index, line in enumerate(lines, start=1):
        if MAGIC_LINE.match(line) and not _parses(line.strip()):
            shell = line.lstrip().startswith("!") or line.split("=")[-1].lstrip().startswith("!")
            kind = "a shell escape" if shell else "an IPython magic"
            notes.append((index, f"dropped {kind} ({line.strip()[:60]})"))
            indent = line[:len(line) - len(line.lstrip())]
            cleaned.append(f"{indent}pass" if indent else "")
        else:
            cleaned.append(line)
    return cleaned, notes


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _keeps(stmt: ast.stmt) -> bool:
    """Whether a top-level statement defines part of the solution (see the module's rules)."""
    if isinstance(stmt, DEFINITIONS):
        return True
    if isinstance(stmt, ast.Assign):
        return all(_plain_target(t) for t in stmt.targets) and _calls_nothing(stmt.value)
    if isinstance(stmt, ast.AnnAssign):
        return isinstance(stmt.target, ast.Name) and \
            (stmt.value is None or _calls_nothing(stmt.value))
    if isinstance(stmt, ast.If):
        return not _is_main_guard(stmt) and _calls_nothing(stmt.test) and \
            all(_keeps(s) for s in (*stmt.body, *stmt.orelse))
    if isinstance(stmt, ast.Try):
        handlers = [s for h in stmt.handlers for s in h.body]
        return all(_keeps(s) or isinstance(s, ast.Pass)
                   for s in (*stmt.body, *handlers, *stmt.orelse, *stmt.finalbody))
    return False


def _missing_module(stmt: ast.stmt, available: Callable[[str], bool]) -> str | None:
    """The first module ``stmt`` imports that is not installed (None: all are, or no import)."""
    if isinstance(stmt, ast.Import):
        names = [alias.name for alias in stmt.names]
    elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
        names = [stmt.module]
    else:
        return None
    return next((n for n in names if n != "__future__" and not available(n.split(".")[0])), None)


def _plain_target(target: ast.expr) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_plain_target(t) for t in target.elts)
    return isinstance(target, ast.Name)


def _calls_nothing(node: ast.AST) -> bool:
    """True when evaluating ``node`` calls no function (lambda bodies are not evaluated)."""
    if isinstance(node, RUNS):
        return False
    if isinstance(node, ast.Lambda):
        return all(_calls_nothing(d) for d in (*node.args.defaults, *node.args.kw_defaults)
                   if d is not None)
    return all(_calls_nothing(child) for child in ast.iter_child_nodes(node))


def _is_main_guard(stmt: ast.If) -> bool:
    return "__name__" in ast.unparse(stmt.test) and "__main__" in ast.unparse(stmt.test)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
        isinstance(stmt.value.value, str)


def _why(stmt: ast.stmt, lines: list[str]) -> str:
    """The note for a top-level statement that is left out."""
    code = lines[stmt.lineno - 1].strip()
    code = code if len(code) <= 60 else code[:57] + "..."
    if isinstance(stmt, ast.Expr):
        what = "a top-level call" if isinstance(stmt.value, ast.Call) else "a top-level expression"
    elif isinstance(stmt, ast.If) and _is_main_guard(stmt):
        return f"left out: runs only as a script ({code})"
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        what = "an assignment that runs code (not a constant)"
    else:
        what = f"a top-level {type(stmt).__name__.lower()} statement"
    return f"left out {what} ({code})"


def _first_line(stmt: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _add_statements(number: int, lines: list[str], kept: list[ast.stmt],
                    dropped: list[ast.stmt], out: _Output) -> None:
    busy = {n for stmt in dropped for n in range(stmt.lineno, (stmt.end_lineno or 0) + 1)}
    emitted: set[int] = set()
    for stmt in kept:
        first, last = _first_line(stmt), stmt.end_lineno or stmt.lineno
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        span = range(first, last + 1)
        if future or any(n in busy or n in emitted for n in span):
            # shares a line with another statement (``import torch; train()``)
            out.add(ast.unparse(stmt).splitlines(), number, first, same_line=True,
                    future=future)
        else:
            out.add(lines[first - 1:last], number, first)
        emitted.update(span)


def _note_definitions(number: int, stmts: list[ast.stmt], defined: dict[str, tuple[int, int]],
                      notes: list[CellNote]) -> None:
    """Record the functions and classes of cell ``number``; note earlier ones it replaces."""
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            earlier = defined.get(stmt.name)
            if earlier is not None and earlier[0] != number:
                notes.append(CellNote(*earlier, f"{stmt.name} is defined again in cell "
                                                f"{number}; the later one is graded"))
            defined[stmt.name] = (number, stmt.lineno)
