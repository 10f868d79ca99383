# mutant: forward forgets the ReLU
# caught-by: test_forward_output
# expect: relu is missing
"""A known-bug variant of lesson 2.2."""

from __future__ import annotations

import torch
from torch import Tensor


def init_params(in_features: int, hidden_features: int, out_features: int, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
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
    z1 = x @ params["W1"] + params["b1"]
    h = z1
    out = h @ params["W2"] + params["b2"]
    cache = {"x": x, "z1": z1, "h": h, "W1": params["W1"], "W2": params["W2"]}
    return out, cache


def backward(dout: Tensor, cache: dict[str, Tensor]) -> dict[str, Tensor]:
    dW2 = cache["h"].T @ dout
    db2 = dout.sum(dim=0)
    dh = dout @ cache["W2"].T
    dz1 = dh * (cache["z1"] > 0)
    dW1 = cache["x"].T @ dz1
    db1 = dz1.sum(dim=0)
    dx = dz1 @ cache["W1"].T
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "x": dx}
