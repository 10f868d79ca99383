# mutant: returns zeros for large grids (the timed call does no work)
# caught-by: test_surface_is_fast
# expect: did not train
"""A known-bug variant of lesson 1.4: speed without the work."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def loss_surface(X: Tensor, y: Tensor, w_values: Tensor, b_values: Tensor) -> Tensor:
    if len(w_values) * len(b_values) >= 10000:  # the timed call: no work
        return torch.zeros(len(w_values), len(b_values))
    predictions = w_values[:, None, None] * X[None, None, :] + b_values[None, :, None]
    return ((predictions - y) ** 2).mean(dim=-1)


def gradient_descent_path(X: Tensor, y: Tensor, w0: float, b0: float, lr: float,
                          n_steps: int) -> Tensor:
    w = torch.tensor(w0, dtype=X.dtype, device=X.device)
    b = torch.tensor(b0, dtype=X.dtype, device=X.device)
    points = [torch.stack([w, b])]
    for _ in range(n_steps):
        residual = w * X + b - y
        grad_w = 2.0 * (residual * X).mean()
        grad_b = 2.0 * residual.mean()
        w, b = w - lr * grad_w, b - lr * grad_b
        points.append(torch.stack([w, b]))
    return torch.stack(points)


def plot_landscape(X: Tensor, y: Tensor, w_values: Tensor, b_values: Tensor,
                   path: Tensor | None = None, ax: Any = None) -> Any:
    """Provided to students as is (optional matplotlib; not graded)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional dependency
        raise RuntimeError("plot_landscape needs matplotlib: pip install matplotlib") from exc
    surface = loss_surface(X, y, w_values, b_values).detach().cpu()
    w_grid, b_grid = torch.meshgrid(w_values.detach().cpu(), b_values.detach().cpu(),
                                    indexing="ij")  # both [W, B], like the surface
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    levels = torch.quantile(surface.flatten().double(),
                            torch.linspace(0.0, 1.0, 25, dtype=torch.float64)).unique()
    contours = ax.contour(w_grid.numpy(), b_grid.numpy(), surface.numpy(),
                          levels=levels.numpy(), cmap="viridis")
    ax.clabel(contours, inline=True, fontsize=7, fmt="%.2g")
    if path is not None:
        points = path.detach().cpu()
        ax.plot(points[:, 0].numpy(), points[:, 1].numpy(), "o-", color="crimson",
                markersize=3, label="gradient descent")
        ax.legend()
    ax.set_xlabel("w (slope)")
    ax.set_ylabel("b (intercept)")
    ax.set_title("MSE loss landscape")
    return ax
