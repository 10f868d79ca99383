"""Correct, written differently: LayerNorm via the mean of squares and rsqrt, f as an
nn.Sequential, grad norms with torch.linalg.vector_norm, clipping from the norm of stacked norms."""

import torch
from torch import nn


def grad_norms(model):
    out = {}
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        out[name] = torch.linalg.vector_norm(param.grad).item()
    return out


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        var = (centred * centred).mean(-1, keepdim=True)
        return self.weight * (centred * torch.rsqrt(var + self.eps)) + self.bias


class ResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.ln = LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, x):
        return x + self.mlp(self.ln(x))


def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in list(parameters) if p.grad is not None]
    if len(grads) == 0:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads])
    total = torch.linalg.vector_norm(norms)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    with torch.no_grad():
        for g in grads:
            g.mul_(factor)
    return total.item()
