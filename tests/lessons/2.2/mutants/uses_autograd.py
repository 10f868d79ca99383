# mutant: backward recomputes the forward pass and asks autograd for the gradients
# caught-by: test_backward_dW1_matches_autograd
# expect: by hand
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
    out = torch.relu(z1) @ params["W2"] + params["b2"]
    return out, {"x": x, **params}


def backward(dout: Tensor, cache: dict[str, Tensor]) -> dict[str, Tensor]:
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in cache.items()}
    with torch.enable_grad():
        out = torch.relu(leaves["x"] @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
        out.backward(dout)
    return {k: v.grad for k, v in leaves.items()}
