"""Lesson 2.2 — Forward and Backward Passes.

You will write the forward pass of a two-layer network and its backward pass by hand, with the
chain rule, the way autograd does it internally:

    z1  = x @ W1 + b1        x: [N, D]   W1: [D, H]   b1: [H]    z1: [N, H]
    h   = relu(z1)                                                h: [N, H]
    out = h @ W2 + b2                    W2: [H, O]   b2: [O]   out: [N, O]

The backward pass receives dout = dL/dout (shape [N, O], one row per sample, from whatever loss
comes next) and returns dL/d(every input of the forward pass). It must not use autograd: no
.backward(), no torch.autograd.grad. Everything it needs comes from the cache your forward pass
returns, which you design yourself.

Check your work with:  loopgrader check 2.2
"""

from __future__ import annotations

import torch
from torch import Tensor


def init_params(in_features: int, hidden_features: int, out_features: int, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """Random parameters for forward (provided, to experiment with).

    Returns:
        {"W1": [D, H], "b1": [H], "W2": [H, O], "b2": [O]}, weights scaled by 1/sqrt(fan_in).
    """
    g = torch.Generator().manual_seed(seed)
    return {
        "W1": torch.randn(in_features, hidden_features, generator=g, dtype=dtype)
        / in_features**0.5,
        "b1": torch.zeros(hidden_features, dtype=dtype),
        "W2": torch.randn(hidden_features, out_features, generator=g, dtype=dtype)
        / hidden_features**0.5,
        "b2": torch.zeros(out_features, dtype=dtype),
    }


def forward(x: Tensor, params: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """Forward pass: Linear -> ReLU -> Linear.

    Args:
        x: inputs, shape [N, D].
        params: {"W1": [D, H], "b1": [H], "W2": [H, O], "b2": [O]}, x's dtype.

    Returns:
        (out, cache): out of shape [N, O] with x's dtype, and a dict of the tensors your
        backward pass will need (your choice of keys). Do not modify x or params.
    """
    # TODO: compute z1, h and out as in the module docstring; keep what backward needs.
    raise NotImplementedError("2.2: implement forward")


def backward(dout: Tensor, cache: dict[str, Tensor]) -> dict[str, Tensor]:
    """Backward pass by hand (no autograd), from the cache of forward.

    Args:
        dout: dL/dout, shape [N, O].
        cache: what your forward returned for the same inputs.

    Returns:
        {"W1": dL/dW1 [D, H], "b1": dL/db1 [H], "W2": dL/dW2 [H, O], "b2": dL/db2 [O],
         "x": dL/dx [N, D]}: each gradient has the shape of what it differentiates.

    The ReLU passes the gradient only where z1 > 0; at z1 == 0 exactly its gradient is 0, as in
    torch. Each bias is shared by every sample of the batch.
    """
    # TODO: walk the forward pass backwards: out -> W2, b2, h -> z1 (ReLU) -> W1, b1, x.
    raise NotImplementedError("2.2: implement backward")
