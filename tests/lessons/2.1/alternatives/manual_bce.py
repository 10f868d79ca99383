"""Correct, written differently: the BCE-with-logits formula written out with logsigmoid,
nn.ModuleDict of activations, a for loop over a range with zero_grad(set_to_none=True)."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features, hidden_features, out_features, activation="relu"):
        super().__init__()
        choices = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
        if activation not in choices:
            raise ValueError(activation)
        self.layers = nn.ModuleList([nn.Linear(in_features, hidden_features),
                                     choices[activation](),
                                     nn.Linear(hidden_features, out_features)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


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


def _bce_with_logits(z, y):
    return -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()


def fit_classifier(model, X, y, n_epochs=300, lr=0.01):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out = []
    for _ in range(n_epochs):
        opt.zero_grad(set_to_none=True)
        loss = _bce_with_logits(model(X), y)
        out.append(loss.item())
        loss.backward()
        opt.step()
    return out


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        probs = nn.Sigmoid()(model(X))
    return ((probs > 0.5) == (y > 0.5)).double().mean().item()
