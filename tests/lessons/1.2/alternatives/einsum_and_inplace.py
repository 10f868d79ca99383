"""Correct, written differently: einsum, F.mse_loss, in-place updates, explicit shapes check."""

import torch
import torch.nn.functional as F


def predict(X, w, b):
    return torch.einsum("nd,d->n", X, w) + b


def mse_loss(y_pred, y_true):
    if tuple(y_pred.shape) != tuple(y_true.shape):
        raise ValueError("y_pred and y_true must have the same shape")
    return F.mse_loss(y_pred, y_true)


def mse_gradients(X, y, w, b):
    err = predict(X, w, b) - y
    dw = 2 * (err.unsqueeze(1) * X).mean(dim=0)
    db = 2 * err.mean()
    return dw, db


def fit(X, y, lr=0.1, n_steps=500):
    w = X.new_zeros(X.shape[1])
    b = X.new_zeros(())
    history = []
    for step in range(n_steps):
        history.append(mse_loss(predict(X, w, b), y).item())
        gw, gb = mse_gradients(X, y, w, b)
        w -= lr * gw
        b -= lr * gb
    return w, b, history
