"""The conventions a course author follows in ``graders/<id>/``, as code that both ``validate``
and the students' build apply.

- Every Python file in a lesson's graders folder other than ``probes.py`` has a name used by no
  other lesson: several lessons are graded in one pytest run, and Python keeps one module per
  name (``probes.py`` is the exception: it is loaded by path, in the worker only).
- A helper holding reference-level code says so with ``LOOPGRADER_INSTRUCTOR_ONLY = True``; it
  never ships to students. A test file that ships imports such a helper only inside ``try`` /
  ``except ImportError`` (so it still runs without it); otherwise the whole file is held back.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from loopgrader.course.catalog import Course, Lesson

__all__ = ["INSTRUCTOR_ONLY", "authoring_problems", "imports_any", "is_hidden_mark", "marks",
           "module_hidden", "private_modules"]

INSTRUCTOR_ONLY = "LOOPGRADER_INSTRUCTOR_ONLY = True"
WORKER_ONLY = "probes"  # loaded by path in the worker; every lesson may have one
PUBLIC_API = ("loopgrader.checks", "loopgrader.probes")  # what grader files may import


def private_modules(folder: Path) -> set[str]:
    """Grader helpers marked instructor-only (they hold reference-level code)."""
    return {p.stem for p in folder.glob("*.py")
            if INSTRUCTOR_ONLY in p.read_text(encoding="utf-8")}


def imports_any(source: str, names: set[str]) -> bool:
    """Whether ``source`` needs one of the modules ``names``: an import of one counts unless it
    sits in a ``try`` whose ``except ImportError`` lets the file run without it."""
    tree = ast.parse(source)
    optional = {id(node) for block in ast.walk(tree) if isinstance(block, ast.Try)
                and any(_catches_import_error(h) for h in block.handlers)
                for stmt in block.body for node in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.ImportFrom) and node.module in names:
            return True
        if isinstance(node, ast.Import) and any(a.name in names for a in node.names):
            return True
    return False


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(k, ast.Name) and k.id in ("ImportError", "ModuleNotFoundError")
               for k in kinds)


def authoring_problems(course: Course) -> list[str]:
    """Every breach of the conventions above, as ``file: rule: expected …, got …``."""
    problems: list[str] = []
    homes: dict[str, list[Path]] = defaultdict(list)
    for lesson in course.lessons:
        if not lesson.graders_dir.is_dir():
            continue
        for path in sorted(lesson.graders_dir.glob("*.py")):
            if path.stem != WORKER_ONLY:
                homes[path.stem].append(path)
            problems += _engine_imports(path)
        problems += _lesson_problems(lesson)
    for name, paths in sorted(homes.items()):
        if len(paths) > 1:
            others = ", ".join(str(p) for p in paths[1:])
            problems.append(f"{paths[0]}: grader file names: expected a name no other lesson "
                            f"uses, got {name}.py also in {others} (rename one, e.g. with the "
                            "lesson's topic in the name)")
    return problems


def _engine_imports(path: Path) -> list[str]:
    """An import of the engine's internals (anything of ``loopgrader`` but its toolkit)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return []  # reported by validate's own Python check
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [f"{node.module}.{a.name}" if node.module == "loopgrader" else
                     str(node.module) for a in node.names]
        found += [name for name in names if name.split(".")[0] == "loopgrader"
                  and not any(name == api or name.startswith(api + ".") for api in PUBLIC_API)]
    if not found:
        return []
    return [f"{path}: engine imports: expected imports from loopgrader.checks (grader side) or "
            f"loopgrader.probes (worker side) only, got {', '.join(dict.fromkeys(found))} (the "
            "rest of loopgrader is internal and may change; use what loopgrader.checks offers, "
            "or ask for what is missing to be added there)"]


def _lesson_problems(lesson: Lesson) -> list[str]:
    problems: list[str] = []
    private = private_modules(lesson.graders_dir)
    for path in sorted(lesson.graders_dir.glob("test_*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError):
            continue  # reported by validate's own Python check
        if imports_any(source, {WORKER_ONLY}):
            problems.append(f"{path}: imports: expected no import of probes.py (it runs in the "
                            "worker beside student code; call it with student.probe(...)), "
                            "got one")
        if private and imports_any(source, private) and not module_hidden(tree):
            problems.append(
                f"{path}: instructor-only helpers ({', '.join(sorted(private))}): expected "
                "their import inside `try:` / `except ImportError:`, got a plain import, so "
                "none of this file's tests would reach students (guard the import, or mark "
                "the file `pytestmark = pytest.mark.visibility(\"hidden\")`)")
    return problems


def is_hidden_mark(node: ast.expr) -> bool:
    """``pytest.mark.visibility("hidden")`` (any visibility but ``visible``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "visibility" and node.args:
        arg = node.args[0]
        return isinstance(arg, ast.Constant) and arg.value != "visible"
    return False


def marks(value: ast.expr) -> list[ast.expr]:
    """The marks of a ``pytestmark`` value or a decorator list entry."""
    return list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else [value]


def module_hidden(tree: ast.Module) -> bool:
    """Whether a test file marks all its tests hidden with ``pytestmark``."""
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and any(is_hidden_mark(mark) for mark in marks(node.value))
        for node in tree.body)
