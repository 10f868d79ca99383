"""Correct, written differently: torch.meshgrid grids broadcast against X on a new last axis,
and a path kept as Python floats, turned into a tensor at the end."""

import torch


def loss_surface(X, y, w_values, b_values):
    W, B = torch.meshgrid(w_values, b_values, indexing="ij")
    residual = W.unsqueeze(-1) * X + B.unsqueeze(-1) - y
    return residual.square().mean(-1)


def gradient_descent_path(X, y, w0, b0, lr, n_steps):
    w, b = float(w0), float(b0)
    path = [[w, b]]
    for _ in range(n_steps):
        r = w * X + b - y
        dw = float(2 * torch.mean(r * X))
        db = float(2 * torch.mean(r))
        w -= lr * dw
        b -= lr * db
        path.append([w, b])
    return torch.tensor(path, dtype=X.dtype, device=X.device)
