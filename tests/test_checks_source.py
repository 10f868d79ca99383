"""Source rules (AST, aliases included) and the worker-side guards."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from loopgrader.checks.failures import GradingFailure
from loopgrader.checks.source import assert_no_forbidden, find_forbidden, static_hints
from loopgrader.course.catalog import load_course
from loopgrader.probes.guards import NO_AUTOGRAD_MESSAGE, forbid, no_autograd

REPO = Path(__file__).resolve().parents[1]
RULES = ["torch.sigmoid", "torch.nn.functional", "torch.special"]


@pytest.mark.parametrize("source", [
    "import torch\ny = torch.sigmoid(x)",
    "import torch as t\ny = t.sigmoid(x)",
    "from torch import sigmoid\ny = sigmoid(x)",
    "from torch import sigmoid as s\ny = s(x)",
    "import torch.nn.functional as F\ny = F.relu(x)",
    "from torch.nn import functional\ny = functional.relu(x)",
    "from torch.special import expit\ny = expit(x)",
    "y = x.sigmoid()",
], ids=["plain", "alias", "from", "from-as", "F", "functional", "special", "method"])
def test_forbidden_uses_are_found_through_aliases(source: str) -> None:
    assert find_forbidden(source, RULES, methods=["sigmoid"])


def test_allowed_code_passes() -> None:
    source = "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
    assert find_forbidden(source, RULES, methods=["sigmoid"]) == []


def test_failure_lists_every_use_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "activations.py"
    path.write_text("import torch\n\n\ndef f(x):\n    return torch.sigmoid(x) + x.sigmoid()\n")
    with pytest.raises(GradingFailure) as info:
        assert_no_forbidden(path, RULES, methods=["sigmoid"])
    assert "activations.py, line 5: torch.sigmoid" in info.value.message
    assert "activations.py, line 5: .sigmoid()" in info.value.message


def test_static_hints_are_advice() -> None:
    source = ("def train(model, data):\n    for x, y in data:\n        loss = model(x)\n"
              "        loss.backward()\n        print(loss.item())\n"
              "        for p in model.parameters():\n            norm = p.grad.norm().item()\n"
              "\n\ndef evaluate(model, data):\n    model.eval()\n"
              "    return [model(x) for x, _ in data]\n")
    hints = static_hints(source)
    assert any("line 5: printing .item() on every iteration" in h for h in hints)
    assert any("line 7: .item() inside an inner loop of a training step" in h for h in hints)
    assert any("train trains (calls backward()) but never calls model.train()" in h
               for h in hints)
    assert any("line 11: evaluate evaluates without torch.no_grad()" in h for h in hints)


def test_no_advice_against_what_contracts_ask() -> None:
    """One Python float per step (a loss history) needs one .item() per step; code with no
    module (tensors w and b) has no mode to set."""
    source = ("def fit(X, y, w, b, n):\n    losses = []\n    for _ in range(n):\n"
              "        loss = ((X * w + b - y) ** 2).mean()\n        losses.append(loss.item())\n"
              "        loss.backward()\n    for epoch in range(n):\n        total = 0.0\n"
              "        for xb, yb in zip(X, y):\n            loss = (xb * w - yb).pow(2).sum()\n"
              "            loss.backward()\n            total += loss.item()\n"
              "    return losses\n")
    assert static_hints(source) == []


def _solutions() -> list[tuple[str, Path]]:
    course = load_course(REPO)
    found = []
    for lesson in course.lessons:
        if lesson.ready and lesson.reference is not None:
            found.append((lesson.id, lesson.reference))
            folder = REPO / "tests" / "lessons" / lesson.id / "alternatives"
            found += [(lesson.id, p) for p in sorted(folder.glob("*.py"))]
    return found


@pytest.mark.parametrize("lesson_id,path", _solutions(),
                         ids=[f"{lid}-{p.stem}" for lid, p in _solutions()])
def test_no_correct_solution_gets_advice(lesson_id: str, path: Path) -> None:
    """Every lesson's reference solution (and every alternative correct one) does what its
    lesson asks, so `check` must not advise against any of it."""
    assert static_hints(path.read_text(encoding="utf-8")) == [], f"{lesson_id}: {path.name}"


@pytest.mark.parametrize("lesson_id,name,fragment", [
    ("2.5", "train_no_train_mode", "never calls model.train()"),
    ("2.5", "eval_no_no_grad", "evaluates without torch.no_grad()"),
    ("3.8", "validation_with_graph", "evaluates without torch.no_grad()"),
])
def test_advice_names_the_mode_bugs_of_known_mutants(lesson_id: str, name: str,
                                                     fragment: str) -> None:
    path = REPO / "tests" / "lessons" / lesson_id / "mutants" / f"{name}.py"
    assert any(fragment in h for h in static_hints(path.read_text(encoding="utf-8")))


def test_no_autograd_refuses_backward_and_grad_and_restores() -> None:
    w = torch.ones(2, requires_grad=True)
    with no_autograd():
        assert not torch.is_grad_enabled()
        with torch.enable_grad():
            loss = (w * 2).sum()
            with pytest.raises(RuntimeError, match="gradients by hand"):
                loss.backward()
            with pytest.raises(RuntimeError, match="gradients by hand"):
                torch.autograd.grad((w * 3).sum(), w)
    (w * 2).sum().backward()
    assert w.grad is not None and "by hand" in NO_AUTOGRAD_MESSAGE


def test_forbid_patches_functions_and_methods_then_restores() -> None:
    x = torch.zeros(2)
    with forbid("torch.sigmoid", "torch.Tensor.sigmoid", "torch.nn.functional.relu"):
        for call in (lambda: torch.sigmoid(x), lambda: x.sigmoid(),
                     lambda: torch.nn.functional.relu(x)):
            with pytest.raises(RuntimeError, match="not allowed in this exercise"):
                call()
    assert torch.sigmoid(x).tolist() == [0.5, 0.5]
    assert x.sigmoid().tolist() == [0.5, 0.5]
