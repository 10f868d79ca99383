# mutant: LayerNorm computed in float32 and cast back to the input's dtype
# caught-by: test_layernorm_forward_matches_torch
# expect: precision (dtype) problem
"""A known-bug variant of lesson 3.4: LayerNorm computed in float32 and cast back to the input's dtype."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def grad_norms(model: nn.Module) -> dict[str, float]:
    return {name: p.grad.detach().norm(2).item() for name, p in model.named_parameters()
            if p.grad is not None}


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        mean = x32.mean(dim=-1, keepdim=True)
        var = x32.var(dim=-1, unbiased=False, keepdim=True)
        out = (x32 - mean) / torch.sqrt(var + self.eps) * self.weight.float() + self.bias.float()
        return out.to(x.dtype)


class ResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float) -> float:
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = float(torch.sqrt(sum((g.detach() ** 2).sum() for g in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        with torch.no_grad():
            for g in grads:
                g.mul_(scale)
    return total
