"""Tensor assertions whose failures read as sentences a student can act on.

Order of checks: is it a tensor, shape, dtype, device, NaN/inf, then values (worst entry first).
"""

from __future__ import annotations

from typing import Any

import torch

from loopgrader.checks.failures import GradingFailure

__all__ = ["as_float", "assert_close", "assert_scalar_close", "fmt_shape", "require_tensor"]


def fmt_shape(t: torch.Tensor | torch.Size | tuple[int, ...]) -> str:
    shape = t.shape if isinstance(t, torch.Tensor) else t
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


def require_tensor(got: Any, what: str, *, shape: tuple[int, ...] | None = None,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    """``got`` must be a tensor (of ``shape``/``dtype`` when given); returns it."""
    if not isinstance(got, torch.Tensor):
        raise GradingFailure(f"{what}: expected a tensor, got {type(got).__name__} ({got!r:.80})")
    if shape is not None and tuple(got.shape) != tuple(shape):
        raise GradingFailure(f"{what}: expected shape {fmt_shape(shape)}, got {fmt_shape(got)}",
                             hint=_shape_hint(tuple(got.shape), tuple(shape)))
    if dtype is not None and got.dtype != dtype:
        raise GradingFailure(f"{what}: expected dtype {str(dtype).replace('torch.', '')}, "
                             f"got {_dtype(got)}",
                             hint="keep the dtype of the inputs (do not call .float() or "
                                  "create tensors without dtype=...)")
    return got


def _shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str | None:
    if got == (*expected, 1) or got == (1, *expected):
        return "your result has an extra dimension of size 1 (try .squeeze(-1) or index it)"
    if expected == (*got, 1):
        return "your result is missing the trailing dimension of size 1"
    if len(got) == len(expected) == 2 and got == expected[::-1]:
        return "the shape is transposed: check the order of a matrix product or a .T"
    if not expected:
        return "expected a single number as a 0-dim tensor (a mean or sum over everything)"
    return None


def assert_close(got: Any, expected: torch.Tensor, what: str, *, rtol: float = 1e-5,
                 atol: float = 1e-6, check_dtype: bool = True, check_device: bool = True,
                 hint: str | None = None) -> torch.Tensor:
    """``got`` must match ``expected`` in shape, dtype, device and values."""
    tensor = require_tensor(got, what, shape=tuple(expected.shape),
                            dtype=expected.dtype if check_dtype else None)
    if check_device and tensor.device.type != expected.device.type:
        raise GradingFailure(f"{what}: expected a tensor on {expected.device}, got one on "
                             f"{tensor.device}", hint="keep results on the inputs' device")
    tensor = tensor.detach().to(expected.device)
    _check_finite(tensor, expected, what)
    a, b = tensor.to(torch.float64), expected.detach().to(torch.float64)
    bad = ~torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if bool(bad.any()):
        raise GradingFailure(value_mismatch(a, b, bad, what), hint=hint)
    return tensor


def _check_finite(got: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    if not (got.is_floating_point() or got.is_complex()):
        return
    bad = ~torch.isfinite(got) & torch.isfinite(expected.to(got.dtype))
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise GradingFailure(
            f"{what}: {int(bad.sum())} of {got.numel()} entries are nan or inf where finite "
            f"values were expected (first at index {list(index)}: {got[index].item()})",
            hint="look for a division by zero, exp() of a large number, or log(0)")


def value_mismatch(got: torch.Tensor, expected: torch.Tensor, bad: torch.Tensor,
                   what: str) -> str:
    """``what: N of M entries differ; worst at [i, j]: expected X, got Y``."""
    diff = (got - expected).abs().masked_fill(~bad, 0)
    flat = int(diff.reshape(-1).argmax())
    index = [int(i) for i in torch.unravel_index(torch.tensor(flat), got.shape)] \
        if got.dim() else []
    worst_g = got.reshape(-1)[flat].item() if got.dim() else got.item()
    worst_e = expected.reshape(-1)[flat].item() if expected.dim() else expected.item()
    where = f" at index {index}" if index else ""
    text = (f"{what}: {int(bad.sum())} of {got.numel()} entries differ; worst{where}: "
            f"expected {worst_e:.6g}, got {worst_g:.6g}")
    if f"{worst_e:.6g}" == f"{worst_g:.6g}":  # a near miss: show how near
        text += f" (they differ by {abs(worst_g - worst_e):.3g})"
    return text


def as_float(got: Any, what: str) -> float:
    """``got`` must be a real number (a Python number or a one-element tensor)."""
    if isinstance(got, bool) or not isinstance(got, (int, float, torch.Tensor)):
        raise GradingFailure(f"{what}: expected a number, got {type(got).__name__} "
                             f"({got!r:.80})")
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            raise GradingFailure(f"{what}: expected a single number, got a tensor of shape "
                                 f"{fmt_shape(got)}")
        return float(got.item())
    return float(got)


def assert_scalar_close(got: Any, expected: float, what: str, *, rtol: float = 1e-5,
                        atol: float = 1e-8, hint: str | None = None) -> float:
    """A single number close to ``expected``."""
    value = as_float(got, what)
    if not abs(value - expected) <= atol + rtol * abs(expected):
        raise GradingFailure(f"{what}: expected {expected:.6g}, got {value:.6g}", hint=hint)
    return value
