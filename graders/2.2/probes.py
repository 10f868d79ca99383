"""Worker-side helpers for lesson 2.2: the student's forward, then the student's backward on its
own cache, both where autograd is switched off (inputs do not require grad)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from torch import Tensor

from loopgrader.probes.guards import no_autograd


def _forward(student: ModuleType, x: Tensor, params: dict[str, Tensor]) -> Any:
    result = student.forward(x, params)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return None, f"forward must return a pair (out, cache), got {type(result).__name__}"
    return result, None


def forward_only(student: ModuleType, x: Tensor, params: dict[str, Tensor]) -> Any:
    with no_autograd():
        result, problem = _forward(student, x, params)
    if problem:
        return {"problem": problem}
    return {"out": result[0]}


def forward_backward(student: ModuleType, x: Tensor, params: dict[str, Tensor],
                     dout: Tensor) -> Any:
    with no_autograd():
        result, problem = _forward(student, x, params)
        if problem:
            return {"problem": problem}
        grads = student.backward(dout, result[1])
    return {"out": result[0], "grads": grads}


def inputs_after(student: ModuleType, x: Tensor, params: dict[str, Tensor],
                 dout: Tensor) -> Any:
    forward_backward(student, x, params, dout)
    return {"x": x, "params": params, "dout": dout}
