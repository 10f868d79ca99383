"""Strip hidden tests from a grader file for the students' copy, by line ranges on the AST.

A test is removed when it is marked ``visibility("hidden")`` (on the function, its class or the
module's ``pytestmark``), or when it needs the reference solution (the ``reference`` or
``reference_worker`` fixtures): references never ship, so such tests run only in instructor
grading. Everything else keeps its exact text.
"""

from __future__ import annotations

import ast

from loopgrader.course.authoring import is_hidden_mark, module_hidden

__all__ = ["REFERENCE_FIXTURES", "strip_hidden"]

REFERENCE_FIXTURES = frozenset({"reference", "reference_worker"})


def _needs_reference(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = {a.arg for a in [*node.args.args, *node.args.kwonlyargs]}
    return bool(names & REFERENCE_FIXTURES)


def _drop(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if not node.name.startswith("test"):
            return False
        return any(is_hidden_mark(d) for d in node.decorator_list) or _needs_reference(node)
    if isinstance(node, ast.ClassDef):
        return any(is_hidden_mark(d) for d in node.decorator_list)
    return False


def _span(node: ast.stmt) -> tuple[int, int]:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first, node.end_lineno or node.lineno


def _cut(source: str, spans: list[tuple[int, int]]) -> str:
    lines = source.splitlines(keepends=True)
    for first, last in sorted(spans, reverse=True):
        del lines[first - 1:last]
    return "".join(lines)


def _drop_orphan_helpers(text: str) -> tuple[str, list[str]]:
    """Private helpers that only removed tests used (they may hold reference-like code)."""
    removed: list[str] = []
    while True:
        tree = ast.parse(text)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        orphans = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                   and n.name.startswith("_") and n.name not in used]
        if not orphans:
            return text, removed
        removed += [n.name for n in orphans]
        text = _cut(text, [_span(n) for n in orphans])


def strip_hidden(source: str) -> tuple[str | None, list[str]]:
    """The public part of a grader file (None when nothing public remains) and what was cut."""
    tree = ast.parse(source)
    if module_hidden(tree):
        return None, ["the whole file (pytestmark hidden)"]
    spans: list[tuple[int, int]] = []
    removed: list[str] = []
    for node in tree.body:
        if _drop(node):
            spans.append(_span(node))
            removed.append(getattr(node, "name", "?"))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if _drop(item):
                    spans.append(_span(item))
                    removed.append(f"{node.name}.{getattr(item, 'name', '?')}")
    text = _cut(source, spans)
    text, orphans = _drop_orphan_helpers(text)
    removed += orphans
    public = [n for n in ast.parse(text).body
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
              and n.name.lower().startswith("test")]
    return (text if public else None), removed
