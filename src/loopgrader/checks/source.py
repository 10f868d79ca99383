"""Rules on a student's source: forbidden calls found on the AST, aliases included.

``import torch as t; t.sigmoid(x)``, ``from torch import sigmoid``, ``import torch.nn.functional
as F; F.relu(x)`` and ``x.sigmoid()`` (when the method name is forbidden) are all found, with
line numbers. This reads the file as text in the grader process; nothing of it runs here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loopgrader.checks.failures import GradingFailure

__all__ = ["Use", "assert_no_forbidden", "find_forbidden", "static_hints"]


@dataclass(frozen=True)
class Use:
    """One forbidden use: where, and what it resolves to."""

    line: int
    name: str
    code: str


def _aliases(tree: ast.AST) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    base = aliases.get(node.id)
    return None if base is None else ".".join([base, *reversed(parts)])


def _matches(name: str, forbidden: Iterable[str]) -> str | None:
    for rule in forbidden:
        if name == rule or name.startswith(rule + "."):
            return rule
    return None


def find_forbidden(source: str, forbidden: Iterable[str],
                   methods: Iterable[str] = ()) -> list[Use]:
    """Uses of ``forbidden`` dotted names (or of ``methods`` called on anything)."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    rules, method_names = list(forbidden), set(methods)
    lines = source.splitlines()
    found: dict[tuple[int, str], Use] = {}

    def add(node: ast.AST, name: str) -> None:
        line = getattr(node, "lineno", 0)
        found.setdefault((line, name), Use(line, name, lines[line - 1].strip() if line else ""))

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _matches(full, rules) or _matches(node.module, rules):
                    add(node, full)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _matches(alias.name, rules):
                    add(node, alias.name)
        elif isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node, aliases)
            if dotted and _matches(dotted, rules):
                add(node, dotted)
            elif isinstance(node, ast.Attribute) and node.attr in method_names:
                add(node, f".{node.attr}()")
    uses = list(found.values())
    kept = [u for u in uses if not any(o.line == u.line and o.name.startswith(u.name + ".")
                                       for o in uses)]
    return sorted(kept, key=lambda use: (use.line, use.name))


def assert_no_forbidden(path: Path, forbidden: Iterable[str], methods: Iterable[str] = (),
                        why: str = "this exercise asks you to write it yourself") -> None:
    """The file at ``path`` must not use any forbidden name; failures list every use."""
    try:
        source = path.read_text(encoding="utf-8")
        uses = find_forbidden(source, forbidden, methods)
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise GradingFailure(f"{path.name}: could not read the source ({exc})") from None
    if uses:
        listed = "\n".join(f"  {path.name}, line {u.line}: {u.name}   ({u.code})" for u in uses)
        raise GradingFailure(f"{path.name} uses what this exercise forbids:\n{listed}", hint=why)


SYNCS = ("item", "cpu", "numpy")
PRINTS = ("print", "debug", "info", "warning", "log", "write")


def _calls(node: ast.AST, attr: str) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == attr]


def _loops(node: ast.AST) -> list[ast.For | ast.While]:
    return [n for n in ast.walk(node) if isinstance(n, (ast.For, ast.While))]


def _sync_hints(tree: ast.AST) -> list[tuple[int, str]]:
    """Syncs a lesson's contract never asks for. Recording one Python float per step (a loss
    history) needs one ``.item()`` per step, so that is never advised against; printing a value
    every step, or converting inside an inner loop of a training step (per parameter, per
    element), adds syncs the result does not need."""
    hints: list[tuple[int, str]] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else \
            call.func.id if isinstance(call.func, ast.Name) else ""
        if name not in PRINTS:
            continue
        for node in ast.walk(call):
            if isinstance(node, ast.Attribute) and node.attr in SYNCS and any(
                    node.lineno >= loop.lineno and node.lineno <= (loop.end_lineno or 0)
                    for loop in _loops(tree)):
                hints.append((node.lineno, f"line {node.lineno}: printing .{node.attr}() on "
                              "every iteration forces a device sync each time; print every N "
                              "steps, or the history once at the end"))
    for outer in _loops(tree):
        inners = [loop for loop in _loops(outer) if loop is not outer]
        if not _calls(outer, "backward") or any(_calls(loop, "backward") for loop in inners):
            continue  # not the loop of one training step (that is a loop inside it)
        for inner in inners:
            for node in ast.walk(inner):
                if isinstance(node, ast.Attribute) and node.attr in SYNCS:
                    hints.append((node.lineno, f"line {node.lineno}: .{node.attr}() inside an "
                                  "inner loop of a training step forces a device sync per "
                                  "item; combine the tensors first (torch.stack, sum) and "
                                  "convert once per step"))
    return hints


def _mode_hints(tree: ast.AST) -> list[tuple[int, str]]:
    """Modes, judged per function: a file that switches to eval mode must switch back before
    training, and an evaluation in eval mode should not build graphs. Code with no module (no
    ``.eval()`` call) gets no advice about modes."""
    hints: list[tuple[int, str]] = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef))]
    evals = [c for c in _calls(tree, "eval") if not c.args and not c.keywords]
    trains = _calls(tree, "train")
    if evals and not trains:
        for function in functions:
            if _calls(function, "backward"):
                hints.append((function.lineno, f"line {function.lineno}: {function.name} "
                              "trains (calls backward()) but never calls model.train(), while "
                              f"line {evals[0].lineno} puts a model in eval mode: after an "
                              "evaluation, training would run in eval mode"))
    for function in functions:
        own = [c for c in _calls(function, "eval") if not c.args and not c.keywords]
        if not own or _calls(function, "backward"):
            continue
        text = ast.unparse(function)
        if "no_grad" not in text and "inference_mode" not in text:
            hints.append((own[0].lineno, f"line {own[0].lineno}: {function.name} evaluates "
                          "without torch.no_grad(): it builds autograd graphs it never uses"))
    return hints


def static_hints(source: str) -> list[str]:
    """Advice from the source (never a reason to lose points), only where it cannot contradict
    what a lesson asks: no lesson's reference solution gets any (tests/test_checks_source.py)."""
    tree = ast.parse(source)
    found = sorted(_sync_hints(tree) + _mode_hints(tree))
    return list(dict.fromkeys(text for _, text in found))
