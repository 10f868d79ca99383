"""Source rules (AST, aliases included) and the worker-side guards."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from loopgrader.checks.failures import GradingFailure
from loopgrader.checks.source import assert_no_forbidden, find_forbidden, static_hints
from loopgrader.probes.guards import NO_AUTOGRAD_MESSAGE, forbid, no_autograd

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
              "        loss.backward()\n        print(loss.item())\n")
    hints = static_hints(source)
    assert any(".item() inside a loop" in h for h in hints)
    assert any("never calls model.train()" in h for h in hints)


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
