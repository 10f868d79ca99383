"""Lesson 1.2 — The Simplest Case: Linear Regression.

You will write linear regression by hand: the model, its loss, the gradient of the loss (derived
with calculus, no autograd) and a gradient-descent loop that uses it.

Shapes used throughout:
    X: [N, D] inputs, one row per sample
    y: [N] targets
    w: [D] weights, b: 0-dim bias (a tensor holding one number, shape [])

Check your work with:  loopgrader check 1.2
"""

from __future__ import annotations

import torch
from torch import Tensor


def predict(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Predictions of the linear model for every row of X.

    Args:
        X: inputs, shape [N, D].
        w: weights, shape [D].
        b: bias, 0-dim.

    Returns:
        A tensor of shape [N] (not [N, 1]) with the same dtype as X.
    """
    # TODO: one matrix-vector product plus the bias.
    raise NotImplementedError("1.2: implement predict")


def mse_loss(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """Mean squared error between predictions and targets.

    Returns:
        A 0-dim tensor: the mean over all entries of (y_pred - y_true) ** 2.

    Raises:
        ValueError: if y_pred and y_true have different shapes. (Broadcasting an [N, 1] tensor
        against an [N] one silently builds an [N, N] matrix: the classic bug this prevents.)
    """
    # TODO: compare the shapes first, then compute the mean of the squared differences.
    raise NotImplementedError("1.2: implement mse_loss")


def mse_gradients(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients of mse_loss(predict(X, w, b), y) with respect to w and b, by hand.

    Derive them on paper first: with r = predict(X, w, b) - y (shape [N]),
    what are dL/dw and dL/db of L = mean(r ** 2)?  Do not use autograd (no .backward(), no
    torch.autograd.grad): this exercise is about the formula.

    Returns:
        (dw, db): dw of shape [D], db 0-dim, both with X's dtype.
    """
    # TODO: compute the residual r, then dw and db from it.
    raise NotImplementedError("1.2: implement mse_gradients")


def fit(X: Tensor, y: Tensor, lr: float = 0.1, n_steps: int = 500) -> tuple[Tensor, Tensor,
                                                                             list[float]]:
    """Fit w and b with plain gradient descent, using mse_gradients (no autograd).

    w starts as zeros of shape [D] and b as a 0-dim zero, both with X's dtype. At every step,
    first record the current loss (a Python float), then update w and b by -lr times their
    gradients.

    Returns:
        (w, b, losses) with len(losses) == n_steps; losses[0] is the loss at the start.
    """
    # TODO: initialise w and b, then loop n_steps times: record the loss, compute the
    # gradients with mse_gradients, update w and b.
    raise NotImplementedError("1.2: implement fit")
