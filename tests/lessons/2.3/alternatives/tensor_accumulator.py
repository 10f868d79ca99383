"""Correct, written differently: nn.Linear-style uniform init, torch.mm, the loss total kept as a
tensor and converted once per epoch, p.data.sub_, ceil-based batch count."""

import math

import torch
from torch import Tensor


class TwoLayerNet:
    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 seed: int = 0) -> None:
        rng = torch.Generator().manual_seed(seed)

        def uniform(*shape: int, fan_in: int) -> Tensor:
            bound = 1.0 / math.sqrt(fan_in)
            return torch.empty(*shape).uniform_(-bound, bound, generator=rng)

        self.params = {"W1": uniform(in_features, hidden_features, fan_in=in_features),
                       "b1": uniform(hidden_features, fan_in=in_features),
                       "W2": uniform(hidden_features, out_features, fan_in=hidden_features),
                       "b2": uniform(out_features, fan_in=hidden_features)}

    def forward(self, X: Tensor) -> Tensor:
        p = self.params
        return torch.mm(torch.tanh(torch.mm(X, p["W1"]) + p["b1"]), p["W2"]) + p["b2"]

    def loss_and_grads(self, X: Tensor, y: Tensor) -> tuple[float, dict[str, Tensor]]:
        p = self.params
        hidden = torch.tanh(torch.mm(X, p["W1"]) + p["b1"])
        residual = torch.mm(hidden, p["W2"]) + p["b2"] - y
        count = residual.numel()
        loss = torch.sum(residual * residual) / count
        g_out = residual * (2.0 / count)
        g_hidden = torch.mm(g_out, p["W2"].transpose(0, 1))
        g_pre = g_hidden - g_hidden * hidden * hidden
        grads = {"W2": torch.mm(hidden.transpose(0, 1), g_out), "b2": torch.sum(g_out, 0),
                 "W1": torch.mm(X.transpose(0, 1), g_pre), "b1": torch.sum(g_pre, 0)}
        return float(loss), grads

    def step(self, grads: dict[str, Tensor], lr: float) -> None:
        for name, value in self.params.items():
            value.data.sub_(grads[name] * lr)


def train(net: TwoLayerNet, X: Tensor, y: Tensor, lr: float = 0.1, n_epochs: int = 200,
          batch_size: int = 32, seed: int = 0) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    n = X.size(0)
    n_batches = math.ceil(n / batch_size)
    out: list[float] = []
    for _ in range(n_epochs):
        perm = torch.randperm(n, generator=g)
        total = torch.zeros((), dtype=torch.float64)
        for b in range(n_batches):
            rows = perm[b * batch_size:(b + 1) * batch_size]
            loss, grads = net.loss_and_grads(X[rows], y[rows])
            net.step(grads, lr)
            total += loss * len(rows)
        out.append(float(total) / n)
    return out
