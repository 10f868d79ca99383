"""Correct, written differently: the penalty as a dot product of flattened weights, zero_grad after
the step, masked_fill for the dropped entries, scale stored at construction."""

import torch
from torch import nn


def l2_penalty(model, include_bias=False):
    chosen = [p.reshape(-1) for p in model.parameters() if include_bias or len(p.shape) >= 2]
    flat = torch.cat(chosen)
    return flat @ flat


def train_l2(model, X, y, lam, lr, n_epochs):
    sgd = torch.optim.SGD(model.parameters(), lr=lr)
    out = []
    for epoch in range(n_epochs):
        residual = model(X) - y
        data_loss = (residual ** 2).mean()
        loss = data_loss + lam * l2_penalty(model)
        loss.backward()
        sgd.step()
        sgd.zero_grad()
        out.append(data_loss.item())
    return out


class Dropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError("dropout probability has to be between 0 and 1")
        self.p = p
        self.scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)

    def forward(self, x):
        if not self.training:
            return x
        dropped = torch.rand_like(x) < self.p
        return x.masked_fill(dropped, 0.0) * self.scale
