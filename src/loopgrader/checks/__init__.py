"""The grading toolkit every grader imports: assertions with student-readable messages."""

from __future__ import annotations

from loopgrader.checks.gradients import (
    GradientReport,
    assert_gradient_close,
    central_difference,
    diagnose_gradient,
)
from loopgrader.checks.raises import expect_raises
from loopgrader.checks.tensors import (
    as_float,
    assert_close,
    assert_scalar_close,
    fmt_shape,
    require_tensor,
)
from loopgrader.failures import GradingFailure

__all__ = [
    "GradientReport",
    "GradingFailure",
    "as_float",
    "assert_close",
    "assert_gradient_close",
    "assert_scalar_close",
    "central_difference",
    "diagnose_gradient",
    "expect_raises",
    "fmt_shape",
    "require_tensor",
]
