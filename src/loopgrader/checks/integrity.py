"""Course-wide rules on a student's source: what no lesson needs and what could undo a grader.

The graders' run-time guards (autograd switched off, "do not use X") live in the worker, in the
interpreter the student's code shares, so they hold only if that code cannot reach the machinery
behind them. These rules reject, before anything runs, every construct that reaches it and that
no honest solution of any lesson uses: torch's private attributes (``torch._C``...), ``ctypes``,
``exec``/``eval``/``compile``, ``importlib``/``__import__``, attribute access by a computed name
on a module (``getattr(torch, name)``), ``sys.modules`` and ``gc`` introspection, frame and
closure introspection, monkeypatching modules, and the grader's own package. Attributes of the
student's own objects (``self._cache``, ``getattr(self, name)``) are theirs and stay allowed.

The file is read as text in the grader process; nothing of it runs here.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loopgrader.checks.failures import IntegrityViolation
from loopgrader.checks.source import _aliases, _dotted

__all__ = ["Rejection", "find_rejections", "integrity_failure", "rejected_source",
           "rejection_message"]

WITHHELD = ("the grader's checks must stay in force while your code runs: this test's points "
            "are withheld, and your instructor sees the lesson flagged")

# Modules (and packages) no lesson imports, each a way around a guard.
BANNED_MODULES: dict[str, str] = {
    "ctypes": "reaches the interpreter's memory", "_ctypes": "reaches the interpreter's memory",
    "importlib": "imports or reloads modules by name", "gc": "finds any live object",
    "builtins": "replaces the built-in functions", "inspect": "reads other code's variables",
    "marshal": "builds code objects", "pickle": "imports objects named in data",
    "_pickle": "imports objects named in data", "copyreg": "imports objects named in data",
    "dill": "imports objects named in data", "cloudpickle": "imports objects named in data",
    "runpy": "runs code by name", "code": "runs code from strings",
    "codeop": "compiles code from strings", "pydoc": "imports objects named by strings",
    "pkgutil": "imports objects named by strings", "zipimport": "imports code",
    "unittest.mock": "patches objects named by strings", "mock": "patches objects named by strings",
    "loopgrader": "is the grader's own package",
    "functorch": "computes gradients for you",
    "torch.func": "computes gradients for you",
    "torch.autograd.forward_ad": "computes gradients for you",
    "torch.autograd.functional": "computes gradients for you",
    "torch.autograd.graph": "changes how autograd records",
    "torch.autograd.variable": "reaches the autograd engine",
    "torch.ops": "calls torch's operators around the grader's checks",
    "torch.library": "registers operators", "torch.overrides": "switches torch's dispatch",
    "torch.utils.cpp_extension": "compiles native code",
}
# Names that, used at all, reach around the rules above.
BANNED_BUILTINS: dict[str, str] = {
    "eval": "runs code from a string", "exec": "runs code from a string",
    "compile": "builds code from a string", "__import__": "imports modules by name",
    "globals": "reaches every global by name", "locals": "reaches variables by name",
    "__builtins__": "reaches the built-in functions", "breakpoint": "starts a debugger",
}
BANNED_ATTRIBUTES: dict[str, str] = {
    "sys.modules": "changes which module a name imports",
    "sys.meta_path": "changes how modules are imported",
    "sys.path_hooks": "changes how modules are imported",
    "sys.settrace": "watches other code run", "sys.setprofile": "watches other code run",
    "sys.addaudithook": "watches other code run",
    "operator.attrgetter": "reads attributes named by strings",
    "operator.methodcaller": "calls methods named by strings",
    "types.FunctionType": "builds functions from code objects",
    "types.CodeType": "builds code objects",
}
# Attributes of any object that reach code, frames, closures or the class hierarchy.
DUNDERS = {"__globals__", "__subclasses__", "__builtins__", "__code__", "__closure__",
           "__getattribute__", "__setattr__", "__delattr__", "__mro__", "__bases__", "__base__",
           "__loader__", "__spec__", "__import__", "__wrapped__", "__reduce__", "__reduce_ex__",
           "__kwdefaults__", "__defaults__", "f_globals", "f_locals", "f_back", "f_builtins",
           "gi_frame", "cr_frame", "ag_frame", "tb_frame", "__self__", "__func__"}
# Dunder names of modules that are harmless to read.
PUBLIC_DUNDERS = {"__name__", "__version__", "__doc__", "__qualname__"}
BUILTIN_NAMES = frozenset(dir(builtins))
NAME_FUNCTIONS = {"getattr", "setattr", "delattr", "hasattr", "vars", "dir"}
# Modules whose private attributes are rejected (other modules' are no way around a guard).
PRIVATE_CHECKED = {"torch", "sys", "functorch", "numpy"}
# Settings a student may legitimately store on a torch module.
STORE_ALLOWED = ("torch.backends.",)


@dataclass(frozen=True)
class Rejection:
    """One construct the course rejects: where, what, why, and the line as written."""

    line: int
    name: str
    why: str
    code: str


def find_rejections(source: str) -> list[Rejection]:
    """Every construct of ``source`` that no lesson needs and that could undo a guard."""
    tree = ast.parse(source)
    aliases = _with_assigned(tree, _aliases(tree))
    lines = source.splitlines()
    found: dict[tuple[int, str], Rejection] = {}
    for node, name, why in _walk(tree, aliases):
        line = getattr(node, "lineno", 0)
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        found.setdefault((line, name), Rejection(line, name, why, code))
    return sorted(found.values(), key=lambda r: (r.line, r.name))


def rejection_message(file_name: str, rejections: list[Rejection]) -> str:
    """The student-facing paragraph: the file was not run, and why, line by line."""
    listed = "\n".join(f"  {file_name}, line {r.line}: {r.name}: {r.why}   ({r.code})"
                       for r in rejections[:12])
    more = f"\n  ... and {len(rejections) - 12} more" if len(rejections) > 12 else ""
    return (f"{file_name} was not graded: it uses what is not allowed in any lesson, because no "
            f"exercise needs it and it could undo the grader's checks:\n{listed}{more}")


def rejected_source(path: Path) -> IntegrityViolation | None:
    """The failure every test of a lesson gets when its file uses a rejected construct."""
    try:
        rejections = find_rejections(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None  # importing it will say what is wrong, in the student's words
    if not rejections:
        return None
    return IntegrityViolation(rejection_message(path.name, rejections),
                              hint="remove these lines: every exercise can be solved without "
                                   "them (name modules and functions directly in your code)")


def integrity_failure(what: str, violations: list[str]) -> IntegrityViolation:
    """A guarded call during which the worker saw a guard undone (``violations``: sentences)."""
    listed = "; ".join(str(v) for v in violations[:5])
    return IntegrityViolation(f"while running {what}: {listed}", hint=WITHHELD)


def _with_assigned(tree: ast.AST, aliases: dict[str, str]) -> dict[str, str]:
    """Imports plus plain names bound to them (``t = torch``, ``V = torch.autograd.Variable``)."""
    found = dict(aliases)
    for _ in range(3):  # chains of a few assignments
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                dotted = _dotted(node.value, found)
                if dotted is not None:
                    found.setdefault(node.targets[0].id, dotted)
    return found


def _module_rule(name: str) -> tuple[str, str] | None:
    for banned, why in BANNED_MODULES.items():
        if name == banned or name.startswith(banned + "."):
            return banned, why
    parts = name.split(".")
    if parts[0] == "torch" and any(_private(p) for p in parts[1:]):
        return name, "is a private part of torch"
    return None


def _banned_only(name: str) -> tuple[str, str] | None:
    for banned, why in BANNED_MODULES.items():
        if "." not in banned and (name == banned or name.startswith(banned + ".")):
            return banned, why
    return None


def _private(part: str) -> bool:
    """``_C``, ``_execution_engine``, ``__dict__``; not special methods (``__init__``)."""
    if part in PUBLIC_DUNDERS:
        return False
    special = part.startswith("__") and part.endswith("__") and part not in ("__dict__",)
    return part.startswith("_") and not special


def _dotted_rule(dotted: str) -> tuple[str, str] | None:
    """A rule for a name resolved through the file's imports (``t._C`` -> ``torch._C``); a
    module reached as another's attribute (``os.sys.modules``) meets the same rules."""
    parts = dotted.split(".")
    for start in range(len(parts)):
        tail = ".".join(parts[start:])
        rule = _module_rule(tail) if start == 0 else _banned_only(tail)
        if rule is not None:
            return rule
        for banned, why in BANNED_ATTRIBUTES.items():
            if tail == banned or tail.startswith(banned + "."):
                return banned, why
    if parts[0] not in PRIVATE_CHECKED:
        return None
    for i, part in enumerate(parts[1:], start=1):
        if _private(part):
            return ".".join(parts[: i + 1]), "is a private attribute of a module"
    return None


def _walk(tree: ast.AST, aliases: dict[str, str]) -> Iterator[tuple[ast.AST, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                rule = _module_rule(alias.name)
                if rule:
                    yield node, f"import {alias.name}", rule[1]
        elif isinstance(node, ast.ImportFrom):
            yield from _import_from(node)
        elif isinstance(node, ast.Name) and node.id in BANNED_BUILTINS:
            yield node, node.id, BANNED_BUILTINS[node.id]
        elif isinstance(node, ast.Attribute):
            yield from _attribute(node, aliases)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in NAME_FUNCTIONS:
            yield from _name_function(node, aliases)


def _import_from(node: ast.ImportFrom) -> Iterator[tuple[ast.AST, str, str]]:
    if node.level or not node.module or node.module == "__future__":
        return
    rule = _module_rule(node.module)
    if rule:
        yield node, f"from {node.module} import", rule[1]
        return
    for alias in node.names:
        rule = _dotted_rule(f"{node.module}.{alias.name}")
        if rule:
            yield node, f"from {node.module} import {alias.name}", rule[1]


def _attribute(node: ast.Attribute, aliases: dict[str, str]) -> Iterator[tuple[ast.AST, str, str]]:
    if node.attr in DUNDERS:
        yield node, f".{node.attr}", "reaches code, frames or classes behind the grader's back"
        return
    dotted = _dotted(node, aliases)
    if dotted is None:
        return
    rule = _dotted_rule(dotted)
    if rule:
        yield node, rule[0], rule[1]
    elif isinstance(node.ctx, (ast.Store, ast.Del)) and not dotted.startswith(STORE_ALLOWED):
        yield node, dotted, "changes a module that other code (the grader's too) relies on"


def _name_function(node: ast.Call, aliases: dict[str, str]) -> Iterator[tuple[ast.AST, str, str]]:
    assert isinstance(node.func, ast.Name)
    function = node.func.id
    if not node.args:
        if function in ("vars", "dir"):
            yield node, f"{function}()", "reaches variables by name"
        return
    target = _dotted(node.args[0], aliases)
    first = node.args[0]
    if target is None and isinstance(first, ast.Name) and first.id in BUILTIN_NAMES:
        target = f"builtins.{first.id}"  # getattr(len, ...) reaches the builtins module
    if target is None:  # the student's own object: getattr(self, name) is fine
        return
    if function in ("vars", "dir"):
        yield node, f"{function}({target})", "reaches a module's attributes by name"
        return
    name = node.args[1] if len(node.args) > 1 else None
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        yield node, f"{function}({target}, ...)", ("reads a module's attribute by a computed "
                                                   "name: name it in the code instead")
        return
    dotted = f"{target}.{name.value}"
    rule = _dotted_rule(dotted)
    if rule:
        yield node, rule[0], rule[1]
    elif function in ("setattr", "delattr") and not dotted.startswith(STORE_ALLOWED):
        yield node, dotted, "changes a module that other code (the grader's too) relies on"
