"""Correct, written differently: squared vector norms, named_parameters, model.zero_grad(), a while
loop, and a mask from torch.rand(...) > p applied with torch.where."""

import torch
from torch import nn


def l2_penalty(model: nn.Module, include_bias: bool = False) -> torch.Tensor:
    terms = [torch.linalg.vector_norm(p) ** 2 for name, p in model.named_parameters()
             if include_bias or p.ndim >= 2]
    return torch.stack(terms).sum()


def train_l2(model, X, y, lam, lr, n_epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    losses = []
    epoch = 0
    while epoch < n_epochs:
        model.zero_grad()
        prediction = model(X)
        mse = criterion(prediction, y)
        total = mse + lam * l2_penalty(model, include_bias=False)
        total.backward()
        optimizer.step()
        losses.append(float(mse.detach()))
        epoch += 1
    return losses


class Dropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        if not (0 <= p <= 1):
            raise ValueError(f"invalid dropout probability {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x.clone()
        if self.p == 1:
            return x * 0.0
        mask = torch.rand(x.shape, device=x.device) > self.p
        return torch.where(mask, x * (1.0 / (1.0 - self.p)), torch.zeros_like(x))
