"""Correct, written differently: w·x as an outer product, b - y broadcast against it, the
squares summed with einsum, and a path preallocated and filled in place row by row."""

import torch


def loss_surface(X, y, w_values, b_values):
    wx = torch.outer(w_values, X)                      # [W, N]
    residual = wx[:, None, :] + (b_values[:, None] - y)[None, :, :]   # [W, B, N]
    return torch.einsum("wbn,wbn->wb", residual, residual) / X.shape[0]


def gradient_descent_path(X, y, w0, b0, lr, n_steps):
    path = torch.empty(n_steps + 1, 2, dtype=X.dtype, device=X.device)
    path[0, 0], path[0, 1] = w0, b0
    n = X.shape[0]
    for k in range(n_steps):
        w, b = path[k]
        r = w * X + b - y
        path[k + 1, 0] = w - lr * 2.0 / n * (r @ X)
        path[k + 1, 1] = b - lr * 2.0 / n * r.sum()
    return path
