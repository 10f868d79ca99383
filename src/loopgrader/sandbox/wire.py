"""The wire format between the grader and the worker: plain data in ``torch.save`` bytes.

Both sides decode with ``torch.load(weights_only=True)``, which rebuilds only tensors, numbers,
strings, lists, tuples and dicts: nothing the student's process sends can run code in the grader.
Objects that are not plain data (a model, say) are turned into plain descriptions by the worker.
"""

from __future__ import annotations

import io
from typing import Any

import torch

__all__ = ["MARK", "decode", "encode", "to_plain"]

MARK = "__loopgrader__"
MAX_DEPTH = 20


def encode(obj: Any) -> bytes:
    """Serialise plain data (see :func:`to_plain`) to bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    """Read bytes written by :func:`encode`; refuses anything but plain data."""
    return torch.load(io.BytesIO(data), weights_only=True, map_location=None)


def to_plain(obj: Any, depth: int = 0) -> Any:
    """Turn a value returned by student code into plain data that may cross processes.

    Tensors become detached copies that keep dtype, device and ``requires_grad``; modules become
    a description with their state dict and mode; other objects become their type and repr.
    """
    if depth > MAX_DEPTH:
        return {MARK: "object", "type": "nested too deeply", "repr": "..."}
    if obj is None or type(obj) in (bool, int, float, str, complex):
        return obj
    if isinstance(obj, (bool, int, float, str, complex)):  # numpy scalars and other subclasses
        return _builtin(obj)
    if type(obj).__module__ == "numpy" and hasattr(obj, "item"):
        return _numpy(obj)
    if isinstance(obj, torch.Tensor):
        return _plain_tensor(obj)
    if isinstance(obj, (list, tuple)):
        items = [to_plain(x, depth + 1) for x in obj]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, torch.nn.Module):
        state = {k: _plain_tensor(v) for k, v in obj.state_dict().items()}
        return {MARK: "module", "type": type(obj).__name__, "state": state,
                "training": bool(obj.training)}
    if isinstance(obj, (torch.dtype, torch.device)):
        return {MARK: type(obj).__name__, "value": str(obj)}
    return {MARK: "object", "type": type(obj).__qualname__, "repr": _safe_repr(obj)}


def _builtin(obj: Any) -> Any:
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, complex):
        return complex(obj)
    return str(obj)


def _numpy(obj: Any) -> Any:
    try:
        if getattr(obj, "ndim", 0) == 0:
            return to_plain(obj.item())
        return torch.from_numpy(obj.copy())
    except Exception:  # an array torch cannot hold (strings, objects)
        return {MARK: "object", "type": type(obj).__qualname__, "repr": _safe_repr(obj)}


def _plain_tensor(t: torch.Tensor) -> torch.Tensor:
    requires_grad = bool(t.requires_grad)
    plain = torch.Tensor.as_subclass(t.detach(), torch.Tensor).clone()
    if requires_grad and (plain.is_floating_point() or plain.is_complex()):
        plain.requires_grad_(True)
    return plain


def _safe_repr(obj: object) -> str:
    try:
        return repr(obj)[:200]
    except Exception:  # a student's __repr__ may raise anything
        return "<unprintable>"
