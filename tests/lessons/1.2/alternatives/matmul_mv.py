"""Correct, written differently: torch.mv, an explicit sum divided by N, a while loop."""

import torch


def predict(X, w, b):
    return torch.mv(X, w) + b


def mse_loss(y_pred, y_true):
    if y_pred.size() != y_true.size():
        raise ValueError(f"shape mismatch {y_pred.size()} != {y_true.size()}")
    diff = y_pred - y_true
    return (diff * diff).sum() / diff.numel()


def mse_gradients(X, y, w, b):
    n = len(y)
    r = torch.mv(X, w) + b - y
    return torch.mv(X.t(), r) * (2.0 / n), r.sum() * (2.0 / n)


def fit(X, y, lr=0.1, n_steps=500):
    n, d = X.shape
    w = torch.zeros(d, dtype=X.dtype)
    b = torch.tensor(0.0, dtype=X.dtype)
    losses = []
    step = 0
    while step < n_steps:
        losses.append(float(mse_loss(predict(X, w, b), y)))
        dw, db = mse_gradients(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
        step += 1
    return w, b, losses
