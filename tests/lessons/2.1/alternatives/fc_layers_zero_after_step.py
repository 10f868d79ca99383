"""Correct, written differently: functional activations picked from a dict, layers registered in
another order, zero_grad after step, a while loop, .gt/.eq in accuracy."""

import math

import torch
from torch import nn

_ACTS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 activation: str = "relu"):
        super().__init__()
        try:
            self.act = _ACTS[activation]
        except KeyError:
            raise ValueError(f"bad activation: {activation}") from None
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.fc1 = nn.Linear(in_features, hidden_features)

    def forward(self, x):
        h = self.act(self.fc1(x))
        return self.fc2(h)


def make_circles(n=400, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    n_outer = n // 2
    radius = torch.cat([torch.ones(n_outer), torch.full((n - n_outer,), 0.5)])
    angle = 2 * math.pi * torch.rand(n, generator=g)
    X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n_outer), torch.ones(n - n_outer)]).unsqueeze(1)
    order = torch.randperm(n, generator=g)
    return X[order], y[order]


def fit_classifier(model, X, y, n_epochs=300, lr=0.01):
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    epoch = 0
    while epoch < n_epochs:
        logits = model(X)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        losses.append(loss.item())
        epoch += 1
    return losses


def accuracy(model, X, y):
    with torch.no_grad():
        model.eval()
        preds = model(X).gt(0).float()
        return preds.eq(y).float().mean().item()
