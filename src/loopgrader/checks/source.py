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


def static_hints(source: str) -> list[str]:
    """Advice from the source (never a reason to lose points): ``.item()`` in loops, modes."""
    tree = ast.parse(source)
    hints: list[str] = []
    for loop in (n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While))):
        for node in ast.walk(loop):
            if isinstance(node, ast.Attribute) and node.attr in ("item", "cpu", "numpy"):
                hints.append(f"line {node.lineno}: .{node.attr}() inside a loop forces a "
                             "device sync each iteration; collect tensors and convert once")
    text = ast.unparse(tree)
    if "backward(" in text and ".train(" not in text:
        hints.append("the training code never calls model.train()")
    if ".eval(" in text and "no_grad" not in text and "inference_mode" not in text:
        hints.append("evaluation without torch.no_grad() builds graphs it never uses")
    return list(dict.fromkeys(hints))
