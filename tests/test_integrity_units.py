"""Integrity, without grading: the course-wide source rules, the guards' own checks, and the
integrity flag in the gradebook (with its migration) and the exports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import torch
from torch.autograd.variable import Variable

from loopgrader.checks.integrity import find_rejections, rejected_source
from loopgrader.probes import guards
from loopgrader.records.gradebook import PairRecord, open_gradebook
from loopgrader.records.result import LessonResult, TestResult

HONEST = '''
from __future__ import annotations
import math
import os
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

class Net(nn.Module):
    def __init__(self, layers: dict[str, int]) -> None:
        super().__init__()
        nn.Module.__init__(self)
        self._cache = None
        for name, size in layers.items():
            setattr(self, name, nn.Linear(size, size))
        act = getattr(self, "act", None)
        self.first = getattr(self, next(iter(layers)))

    def forward(self, x: Tensor) -> Tensor:
        self._cache = x
        return F.relu(x) if self.training else torch.tanh(x)

def run(model: nn.Module, x: Tensor) -> float:
    torch.backends.cudnn.benchmark = True
    mps = getattr(torch.backends, "mps", None)
    model.eval()
    with torch.no_grad():
        out = model(x).to(torch.float64)
    os.replace("a", "b")
    return float(out.sum()) + math.pi + len(torch.__version__) + len(type(model).__name__)
'''

REJECTED = {
    "import ctypes": "ctypes",
    "import importlib\nimportlib.reload(torch)": "importlib",
    "import gc\ngc.get_objects()": "gc",
    "eval('1')": "eval",
    "exec('x = 1')": "exec",
    "code = compile('1', 'f', 'eval')": "compile",
    "m = __import__('torch')": "__import__",
    "engine = torch._C._ImperativeEngine()": "torch._C",
    "from torch._C import _ImperativeEngine": "torch._C",
    "import torch._C as C": "torch._C",
    "f = getattr(torch, 'sig' + 'moid')": "getattr(torch, ...)",
    "f = getattr(torch, '_C')": "torch._C",
    "t = torch\nf = getattr(t.nn, name)": "getattr(torch.nn, ...)",
    "import sys\nsys.modules['torch'] = None": "sys.modules",
    "b = __builtins__": "__builtins__",
    "g = run.__globals__": ".__globals__",
    "s = object.__subclasses__()": ".__subclasses__",
    "torch.sigmoid = my_sigmoid": "torch.sigmoid",
    "setattr(torch.nn.init, 'normal_', f)": "torch.nn.init.normal_",
    "import loopgrader.checks.guards": "loopgrader",
    "from torch.autograd.variable import Variable": "torch.autograd.variable",
    "from torch.func import grad": "torch.func",
    "y = torch.ops.aten.sigmoid(x)": "torch.ops",
    "import operator\nf = operator.attrgetter('x')": "operator.attrgetter",
    "d = vars(torch)": "vars(torch)",
    "d = torch.__dict__": "torch.__dict__",
}


def test_honest_code_is_not_rejected() -> None:
    assert find_rejections(HONEST) == []


@pytest.mark.parametrize("snippet,name", list(REJECTED.items()))
def test_rejected_constructs(snippet: str, name: str) -> None:
    found = find_rejections("import torch\n" + snippet + "\n")
    assert any(name in r.name for r in found), found
    assert all(r.line >= 2 and r.why for r in found)


def test_every_lesson_file_passes_the_rules() -> None:
    """References, alternatives and stubs of every lesson: nothing honest is rejected."""
    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("graders/*/reference/*.py"), *root.glob("exercises/*/*.py"),
             *root.glob("tests/lessons/*/alternatives/*.py")]
    assert len(files) > 60
    rejected = {str(f): find_rejections(f.read_text(encoding="utf-8")) for f in files}
    assert {f: r for f, r in rejected.items() if r} == {}


def test_rejection_message_names_file_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "neural_net.py"
    path.write_text("import torch\n\nE = eval('torch')\n", encoding="utf-8")
    failure = rejected_source(path)
    assert failure is not None and failure.category == "integrity"
    assert "neural_net.py, line 3: eval" in failure.message and "not graded" in failure.message
    path.write_text("def broken(:\n", encoding="utf-8")
    assert rejected_source(path) is None  # importing it reports the syntax error instead


def test_guard_passes_honest_code_and_flags_undoing() -> None:
    real = Variable._execution_engine
    x = torch.ones(3, requires_grad=True)
    with guards.no_autograd():
        (x * 2).sum()
    assert guards.take_violations() == []
    with guards.no_autograd(), torch.enable_grad():  # a saved engine used behind the guard
        loss = (x * x).sum()
        real.run_backward((loss,), (torch.ones_like(loss),), False, False, (x,), False, False)
    assert "recorded a graph" in " ".join(guards.take_violations())
    with guards.no_autograd():
        Variable._execution_engine = real
    assert "engine was put back" in " ".join(guards.take_violations())
    assert Variable._execution_engine is real
    with guards.no_autograd(), guards.allow_autograd():  # the grader's own helpers
        loss = (x * x).sum()
        torch.autograd.grad(loss, x)
    assert guards.take_violations() == []


def test_guard_flags_patched_guard_code() -> None:
    original = guards._RefusingEngine.__dict__["run_backward"]
    guards._RefusingEngine.run_backward = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        with guards.no_autograd():
            pass
        assert "guard was changed" in " ".join(guards.take_violations())
    finally:
        guards._RefusingEngine.run_backward = original  # type: ignore[method-assign]
    with guards.no_autograd():
        pass
    assert guards.take_violations() == []


def test_forbid_flags_a_restored_function() -> None:
    real = torch.sigmoid
    with guards.forbid("torch.sigmoid"), pytest.raises(RuntimeError, match="not allowed"):
        torch.sigmoid(torch.zeros(1))
    assert guards.take_violations() == []
    with guards.forbid("torch.sigmoid"):
        torch.sigmoid = real
    assert "torch.sigmoid" in " ".join(guards.take_violations())
    assert torch.sigmoid is real


def _pair(integrity: str = "") -> PairRecord:
    test = TestResult("t", 0.0, 1.0, False, "visible", "undone", None, "integrity", "n0")
    return PairRecord("ann", "graded", LessonResult("1.2", "attempted", 0.0, 1.0, (test,)),
                      integrity=integrity)


def test_gradebook_stores_the_flag_and_migrates_old_gradebooks(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        book.record([_pair("while running x: the autograd engine was put back")])
        assert book.pairs()[0].integrity.startswith("while running x")
    old = tmp_path / "old"
    old.mkdir()
    with open_gradebook(old) as book:
        book.record([_pair()])
    db = sqlite3.connect(old / "gradebook.sqlite")
    db.execute("ALTER TABLE pairs DROP COLUMN integrity")  # as written before the column existed
    db.commit()
    db.close()
    with open_gradebook(old) as book:
        assert [p.integrity for p in book.pairs()] == [""]
        book.record([_pair("flagged")])
        assert [p.integrity for p in book.pairs()] == ["flagged"]


def test_gate_refuses_a_reference_kept_before_forbid() -> None:
    original = torch.nn.functional.layer_norm
    guards.gate("torch.nn.functional.layer_norm")
    try:
        kept = torch.nn.functional.layer_norm  # what a student's import-time alias would hold
        x = torch.randn(2, 4)
        assert torch.equal(kept(x, (4,)), original(x, (4,)))
        assert torch.nn.LayerNorm(4)(x).shape == (2, 4)
        with guards.forbid("torch.nn.functional.layer_norm"), \
                pytest.raises(RuntimeError, match="not allowed"):
            kept(x, (4,))
        assert torch.equal(kept(x, (4,)), original(x, (4,)))
        assert guards.take_violations() == []
    finally:
        torch.nn.functional.layer_norm = original


def test_exports_show_the_flag(tmp_path: Path) -> None:
    from loopgrader.batch.exports import write_exports
    from loopgrader.course.catalog import load_course

    course = load_course(Path(__file__).resolve().parents[1])
    flagged = _pair("while running gradients_by_hand(...): the engine was put back")
    honest = PairRecord("bob", "graded", LessonResult("1.2", "passed", 1.0, 1.0))
    write_exports(course, [flagged, honest], tmp_path)
    wide = (tmp_path / "grades_wide.csv").read_text().splitlines()
    assert wide[0].endswith(",total,integrity")
    assert wide[1].startswith("ann,") and wide[1].endswith(",1.2")
    assert wide[2].startswith("bob,") and wide[2].endswith(",")
    long = (tmp_path / "grades_long.csv").read_text().splitlines()
    assert long[0] == "student,lesson,score,max_score,status,integrity"
    assert "engine was put back" in long[1] and long[2].endswith("graded,")
    assert "**Integrity:**" in (tmp_path / "feedback" / "ann.md").read_text()
    assert "Integrity:" not in (tmp_path / "feedback" / "bob.md").read_text()
    assert "integrity" in (tmp_path / "feedback" / "ann.html").read_text()
