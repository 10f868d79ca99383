"""Correct, written differently: forward caches its activations on the object, small random
biases, index_select, a while loop, `params[k] -= ...` on the dict, a running weighted mean."""

import torch


class TwoLayerNet:
    def __init__(self, in_features: int, hidden_features: int, out_features: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.params = {
            "W1": 0.5 * torch.randn(in_features, hidden_features, generator=g),
            "b1": 0.1 * torch.randn(hidden_features, generator=g),
            "W2": 0.5 * torch.randn(hidden_features, out_features, generator=g),
            "b2": 0.1 * torch.randn(out_features, generator=g),
        }
        self.cache = {}

    def forward(self, X):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        z1 = X.matmul(W1) + b1
        h = z1.tanh()
        out = h.matmul(W2) + b2
        self.cache = {"X": X, "h": h, "out": out}
        return out

    def loss_and_grads(self, X, y):
        out = self.forward(X)
        h = self.cache["h"]
        err = out - y
        loss = err.pow(2).sum().item() / err.numel()
        dout = 2 * err / (y.shape[0] * y.shape[1])
        dW2 = h.t().matmul(dout)
        db2 = dout.sum(axis=0)
        dh = dout.matmul(self.params["W2"].t())
        dz1 = dh * (1 - h.pow(2))
        dW1 = X.t().matmul(dz1)
        db1 = dz1.sum(axis=0)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def step(self, grads, lr):
        for k in self.params:
            self.params[k] -= lr * grads[k]


def train(net, X, y, lr=0.1, n_epochs=200, batch_size=32, seed=0):
    generator = torch.Generator()
    generator.manual_seed(seed)
    N = len(X)
    epoch_losses = []
    for _ in range(n_epochs):
        order = torch.randperm(N, generator=generator)
        running, seen, i = 0.0, 0, 0
        while i < N:
            idx = order[i:i + batch_size]
            xb = torch.index_select(X, 0, idx.to(X.device))
            yb = torch.index_select(y, 0, idx.to(y.device))
            loss, grads = net.loss_and_grads(xb, yb)
            net.step(grads, lr)
            running += loss * xb.shape[0]
            seen += xb.shape[0]
            i += batch_size
        epoch_losses.append(running / seen)
    return epoch_losses
