"""Lesson 1.4 — Visualizing the Loss Landscape.

For the model y ≈ w·x + b the loss depends on two numbers only, so it can be drawn: every point
(w, b) of a plane gets a height, the mean squared error of that line on the data. Training is a
walk downhill on that surface, and gradient descent's path can be drawn on top of it.

You compute the surface on a whole grid at once with broadcasting (no Python loop over grid
points: a 400 × 300 grid is 120 000 of them), and the path of plain gradient descent.

Shapes used throughout:
    X, y: [N] (one feature, one target per sample)
    w_values: [W], b_values: [B] (the grid's axes; W and B need not be equal)

Check your work with:  loopgrader check 1.4
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def loss_surface(X: Tensor, y: Tensor, w_values: Tensor, b_values: Tensor) -> Tensor:
    """The MSE of every line (w, b) of a grid, computed by broadcasting.

    Args:
        X: inputs, shape [N].
        y: targets, shape [N].
        w_values: the slopes to try, shape [W].
        b_values: the intercepts to try, shape [B].

    Returns:
        A tensor of shape [W, B] (rows follow w_values, columns follow b_values) with X's dtype:
        entry (i, j) = mean over n of (w_values[i] * X[n] + b_values[j] - y[n]) ** 2.
        Inputs are not modified. No Python loop over the grid: give w, b and X their own
        dimensions (e.g. [W, 1, 1], [1, B, 1], [1, 1, N]) and let broadcasting build the rest.
    """
    # TODO: reshape w_values, b_values and X so that they broadcast to [W, B, N], then take the
    # mean of the squared residuals over the last dimension.
    raise NotImplementedError("1.4: implement loss_surface")


def gradient_descent_path(X: Tensor, y: Tensor, w0: float, b0: float, lr: float,
                          n_steps: int) -> Tensor:
    """The points visited by plain gradient descent on the MSE of y ≈ w·X + b.

    Starting from (w0, b0), each step moves (w, b) by -lr times the gradient of
    L(w, b) = mean((w * X + b - y) ** 2) at the current point (work it out by hand or let
    autograd compute it).

    Args:
        X: inputs, shape [N].
        y: targets, shape [N].
        w0, b0: the starting point.
        lr: learning rate.
        n_steps: number of gradient steps.

    Returns:
        A tensor of shape [n_steps + 1, 2] with X's dtype (no autograd history): row 0 is
        (w0, b0), row k is (w, b) after k steps.
    """
    # TODO: record the start, then take n_steps steps, recording (w, b) after each.
    raise NotImplementedError("1.4: implement gradient_descent_path")


def plot_landscape(X: Tensor, y: Tensor, w_values: Tensor, b_values: Tensor,
                   path: Tensor | None = None, ax: Any = None) -> Any:
    """Draw the loss surface as contour lines, with a gradient-descent path on top (provided).

    Needs matplotlib (pip install matplotlib); not graded. Returns the matplotlib Axes.

    Example:
        X = torch.linspace(-3, 3, 100); y = 2 * X - 1 + 0.5 * torch.randn(100)
        path = gradient_descent_path(X, y, w0=-2.0, b0=3.0, lr=0.1, n_steps=30)
        plot_landscape(X, y, torch.linspace(-3, 5, 120), torch.linspace(-4, 4, 100), path)
        import matplotlib.pyplot as plt; plt.show()
    """
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
