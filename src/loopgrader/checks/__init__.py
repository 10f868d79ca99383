"""The grading toolkit every grader imports: assertions with student-readable messages.

Names are imported on first use (PEP 562), so that a process needing only a torch-free module
of the toolkit (the CLI reads ``checks.source`` for static hints) never pays for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopgrader.checks.failures import GradingFailure
    from loopgrader.checks.gradients import (
        GradientReport,
        assert_gradient_close,
        central_difference,
        diagnose_gradient,
    )
    from loopgrader.checks.raises import expect_raises
    from loopgrader.checks.returns import describe_value, unpack
    from loopgrader.checks.student import ModuleSnapshot, Student
    from loopgrader.checks.tensors import (
        as_float,
        assert_close,
        assert_scalar_close,
        fmt_shape,
        require_tensor,
    )

_HOMES = {
    "GradientReport": "loopgrader.checks.gradients",
    "assert_gradient_close": "loopgrader.checks.gradients",
    "central_difference": "loopgrader.checks.gradients",
    "diagnose_gradient": "loopgrader.checks.gradients",
    "expect_raises": "loopgrader.checks.raises",
    "as_float": "loopgrader.checks.tensors",
    "assert_close": "loopgrader.checks.tensors",
    "assert_scalar_close": "loopgrader.checks.tensors",
    "fmt_shape": "loopgrader.checks.tensors",
    "require_tensor": "loopgrader.checks.tensors",
    "GradingFailure": "loopgrader.checks.failures",
    "describe_value": "loopgrader.checks.returns",
    "unpack": "loopgrader.checks.returns",
    "Student": "loopgrader.checks.student",
    "ModuleSnapshot": "loopgrader.checks.student",
}

__all__ = [
    "GradientReport",
    "GradingFailure",
    "ModuleSnapshot",
    "Student",
    "as_float",
    "assert_close",
    "assert_gradient_close",
    "assert_scalar_close",
    "central_difference",
    "describe_value",
    "diagnose_gradient",
    "expect_raises",
    "fmt_shape",
    "require_tensor",
    "unpack",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
