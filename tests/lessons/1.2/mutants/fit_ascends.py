# mutant: fit adds the gradient (gradient ascent)
# caught-by: test_fit_reaches_least_squares
# expect: -lr times
"""A known-bug variant of lesson 1.2."""

from __future__ import annotations

import torch
from torch import Tensor


def predict(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return X @ w + b


def mse_loss(y_pred: Tensor, y_true: Tensor) -> Tensor:
    if y_pred.shape != y_true.shape:
        raise ValueError(f"shapes differ: {tuple(y_pred.shape)} vs {tuple(y_true.shape)}")
    return ((y_pred - y_true) ** 2).mean()


def mse_gradients(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    residual = predict(X, w, b) - y
    n = X.shape[0]
    return 2.0 / n * (X.T @ residual), 2.0 / n * residual.sum()


def fit(X: Tensor, y: Tensor, lr: float = 0.1, n_steps: int = 500) -> tuple[Tensor, Tensor,
                                                                             list[float]]:
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    losses: list[float] = []
    for _ in range(n_steps):
        losses.append(float(mse_loss(predict(X, w, b), y)))
        dw, db = mse_gradients(X, y, w, b)
        w = w + lr * dw
        b = b + lr * db
    return w, b, losses
