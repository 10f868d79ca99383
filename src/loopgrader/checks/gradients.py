"""Gradient checks: float64 central differences and comparisons that name the likely bug.

``assert_gradient_close`` compares a student's gradient with the true one and, when they differ,
looks for the classic slips: a flipped sign, a factor of 2, a sum where a mean belongs (off by
the batch size), a transpose, and any lesson-specific buggy variant the grader passes in
``known_bugs`` (e.g. "the ReLU mask is missing": the gradient computed without it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from loopgrader.checks.failures import GradingFailure
from loopgrader.checks.tensors import fmt_shape, require_tensor, value_mismatch

__all__ = ["GradientReport", "assert_gradient_close", "central_difference", "diagnose_gradient"]


def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def central_difference(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                       eps: float = 1e-6) -> torch.Tensor:
    """d f(x) / dx for scalar ``f`` by central differences, computed in float64."""
    x64 = x.detach().to(torch.float64).clone()
    grad = torch.zeros_like(x64)
    flat, out = x64.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        keep = float(flat[i])
        flat[i] = keep + eps
        up = float(f(x64))
        flat[i] = keep - eps
        down = float(f(x64))
        flat[i] = keep
        out[i] = (up - down) / (2 * eps)
    return grad


@dataclass(frozen=True)
class GradientReport:
    """How a gradient differs from the true one."""

    max_abs_error: float
    max_rel_error: float
    wrong: int
    total: int
    median_ratio: float | None
    bug: str | None


def _ratio_bug(ratio: float | None, batch_size: int | None, got: torch.Tensor,
               expected: torch.Tensor, atol: float) -> str | None:
    """The bug a constant factor between ``got`` and ``expected`` points to; named only when
    every entry shows that factor (a median alone can be a coincidence)."""
    if ratio is None:
        return None
    named = {-1.0: "the sign is flipped (did you write prediction - target where target - "
                   "prediction belongs, or add the gradient where you should subtract?)",
             0.5: "it is half the true gradient: a factor 2 is missing (d/dx of x² is 2x)",
             2.0: "it is twice the true gradient: a factor 2 too many"}
    if batch_size and batch_size > 2:
        named[float(batch_size)] = (f"it is {batch_size}× the true gradient (the batch size): "
                                    "you summed over the batch where the loss takes the mean")
        named[1.0 / batch_size] = (f"it is 1/{batch_size} of the true gradient: you divided by "
                                   "the batch size twice (or used one sample only)")
    for value, text in named.items():
        if abs(ratio - value) <= 0.02 * abs(value) \
                and torch.allclose(got, value * expected, rtol=0.02, atol=atol * 10):
            return text
    return None


def diagnose_gradient(got: torch.Tensor, expected: torch.Tensor, *, rtol: float, atol: float,
                      batch_size: int | None = None,
                      known_bugs: Mapping[str, torch.Tensor] | None = None) -> GradientReport:
    """Compare in float64 and name the likely bug, if any."""
    a, b = got.detach().to(torch.float64), expected.detach().to(torch.float64)
    diff = (a - b).abs()
    bad = ~torch.isclose(a, b, rtol=rtol, atol=atol)
    big = b.abs() > max(atol, 1e-12) * 10
    ratio = float((a[big] / b[big]).median()) if bool(big.any()) else None
    bug = None
    for name, variant in (known_bugs or {}).items():
        v = variant.detach().to(torch.float64)
        if v.shape == a.shape and not torch.allclose(v, b, rtol=rtol, atol=atol) \
                and torch.allclose(a, v, rtol=rtol * 10, atol=atol * 10):
            bug = name
            break
    if bug is None and bool(bad.any()):
        bug = _ratio_bug(ratio, batch_size, a, b, atol)
    rel = diff / b.abs().clamp_min(1e-12)
    return GradientReport(float(diff.max()) if diff.numel() else 0.0,
                          float(rel.max()) if rel.numel() else 0.0,
                          int(bad.sum()), a.numel(), ratio, bug)


def assert_gradient_close(got: object, expected: torch.Tensor, what: str, *,
                          rtol: float = 1e-6, atol: float = 1e-8, batch_size: int | None = None,
                          known_bugs: Mapping[str, torch.Tensor] | None = None,
                          check_dtype: bool = True) -> torch.Tensor:
    """A student's gradient must equal ``expected``; a failure names the likely bug."""
    tensor = require_tensor(got, what)
    if tuple(tensor.shape) != tuple(expected.shape):
        hint = None
        if tensor.dim() == 2 and tuple(tensor.shape) == tuple(expected.shape)[::-1]:
            hint = "the gradient is transposed: check the order of the matrix product (x.T @ d)"
        elif expected.dim() < tensor.dim():
            hint = "did you forget to sum over the batch dimension?"
        elif tensor.numel() == expected.numel():
            hint = "same number of entries, other shape: reshape to the parameter's shape"
        raise GradingFailure(f"{what}: expected shape {fmt_shape(expected)} (the parameter's "
                             f"shape), got {fmt_shape(tensor)}", hint=hint)
    if check_dtype and tensor.dtype != expected.dtype:
        raise GradingFailure(f"{what}: expected dtype {_name(expected.dtype)}, got "
                             f"{_name(tensor.dtype)}",
                             hint="keep the dtype of the inputs")
    report = diagnose_gradient(tensor, expected, rtol=rtol, atol=atol, batch_size=batch_size,
                               known_bugs=known_bugs)
    if report.wrong:
        a = tensor.detach().to(torch.float64)
        b = expected.detach().to(torch.float64).to(a.device)
        bad = ~torch.isclose(a, b, rtol=rtol, atol=atol)
        message = value_mismatch(a, b, bad, what)
        if report.median_ratio is not None:
            message += f"; median got/expected ratio {report.median_ratio:.3g}"
        raise GradingFailure(message, hint=f"likely bug: {report.bug}" if report.bug else None)
    return tensor
