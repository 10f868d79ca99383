"""Correct, written differently: xavier-uniform init, torch.addmm and einsum, F.mse_loss for the
loss value, 1 - tanh(z)**2, add_(alpha=-lr), perm.split, and a list of (loss, size) pairs."""

import math

import torch
import torch.nn.functional as F


class TwoLayerNet:
    def __init__(self, in_features, hidden_features, out_features, seed=0):
        gen = torch.Generator()
        gen.manual_seed(seed)
        a1 = math.sqrt(6.0 / (in_features + hidden_features))
        a2 = math.sqrt(6.0 / (hidden_features + out_features))
        self.params = {}
        self.params["W1"] = (torch.rand(in_features, hidden_features, generator=gen) * 2 - 1) * a1
        self.params["b1"] = torch.zeros(hidden_features)
        self.params["W2"] = (torch.rand(hidden_features, out_features, generator=gen) * 2 - 1) * a2
        self.params["b2"] = torch.zeros(out_features)

    def forward(self, X):
        P = self.params
        return torch.addmm(P["b2"], torch.tanh(torch.addmm(P["b1"], X, P["W1"])), P["W2"])

    def loss_and_grads(self, X, y):
        P = self.params
        z = torch.addmm(P["b1"], X, P["W1"])
        a = torch.tanh(z)
        pred = torch.addmm(P["b2"], a, P["W2"])
        loss = F.mse_loss(pred, y).item()
        n, o = pred.shape
        g_pred = (pred - y) * (2.0 / (n * o))
        g_z = torch.einsum("no,ho->nh", g_pred, P["W2"]) * (1 - torch.tanh(z) ** 2)
        return loss, {
            "W1": torch.einsum("nd,nh->dh", X, g_z),
            "b1": torch.einsum("nh->h", g_z),
            "W2": torch.einsum("nh,no->ho", a, g_pred),
            "b2": torch.einsum("no->o", g_pred),
        }

    def step(self, grads, lr):
        for key in ("W1", "b1", "W2", "b2"):
            self.params[key].add_(grads[key], alpha=-lr)


def train(net, X, y, lr=0.1, n_epochs=200, batch_size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(n_epochs):
        perm = torch.randperm(X.shape[0], generator=gen)
        parts = []
        for idx in perm.split(batch_size):
            loss, grads = net.loss_and_grads(X[idx], y[idx])
            net.step(grads, lr)
            parts.append((loss, idx.numel()))
        history.append(sum(l * k for l, k in parts) / sum(k for _, k in parts))
    return history
