"""Correct, written differently: p.dim() > 1 with a tensor start value, p.grad = None clearing,
F.mse_loss, a torch.bernoulli keep-mask turned into a scale tensor."""

import torch
import torch.nn.functional as F
from torch import nn


def l2_penalty(model, include_bias=False):
    total = None
    for p in model.parameters():
        if include_bias or p.dim() > 1:
            term = p.pow(2).sum()
            total = term if total is None else total + term
    return total if total is not None else torch.tensor(0.0)


def train_l2(model, X, y, lam, lr, n_epochs):
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr)
    history = []
    for _ in range(n_epochs):
        for p in params:
            p.grad = None
        mse = F.mse_loss(model(X), y)
        (mse + lam * l2_penalty(model)).backward()
        opt.step()
        history.append(mse.item())
    return history


class Dropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError("p must be between 0 and 1")
        self.p = float(p)

    def forward(self, x):
        if not self.training:
            return x
        if self.p >= 1.0:
            return torch.zeros_like(x)
        keep = torch.bernoulli(torch.full_like(x, 1.0 - self.p))
        scale = keep / (1.0 - self.p)
        return x * scale
