"""Lesson 2.6 — Regularization and Overfitting.

Two classic ways to keep a network from memorising its training data: an L2 penalty on the
weights (which plain SGD turns into "weight decay"), and dropout, which zeroes random units while
training. You will write both yourself.

Rules: do not use nn.Dropout or torch.nn.functional.dropout (nor torch.dropout); they are checked
on your source and while your code runs.

Check your work with:  loopgrader check 2.6
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def l2_penalty(model: nn.Module, include_bias: bool = False) -> Tensor:
    """Sum of the squares of the model's weights: sum over parameters p of (p ** 2).sum().

    Only parameters with ``p.ndim >= 2`` count (weight matrices, convolution kernels); 1-D
    parameters (biases, the scales and shifts of normalisation layers) are left out unless
    ``include_bias`` is True, in which case every parameter counts.

    Returns:
        A 0-dim tensor that is part of the autograd graph (so that adding it to a loss makes
        backward() produce 2 * p for every counted parameter). The squared norm — no square root.
    """
    # TODO: loop over model.parameters(), keep the right ones, add up their squares.
    raise NotImplementedError("2.6: implement l2_penalty")


def train_l2(model: nn.Module, X: Tensor, y: Tensor, lam: float, lr: float,
             n_epochs: int) -> list[float]:
    """Train ``model`` in place, full batch, on MSE + lam * l2_penalty(model).

    Use ``torch.optim.SGD(model.parameters(), lr=lr)`` and one optimizer step per epoch (clear
    the gradients, forward, loss, backward, step). With plain SGD this equals weight decay of
    2 * lam on the weights (and none on the biases).

    Args:
        X: [N, D] inputs; y: [N, out] targets (the shape of model(X)).

    Returns:
        The data loss (the MSE alone, without the penalty) of each epoch, as Python floats,
        computed before that epoch's step; len == n_epochs.
    """
    # TODO: optimizer, then per epoch: zero_grad, data loss, total loss, backward, step.
    raise NotImplementedError("2.6: implement train_l2")


class Dropout(nn.Module):
    """Inverted dropout.

    In training mode (``self.training``), each entry of the input is zeroed independently with
    probability ``p`` and every kept entry is scaled by 1 / (1 - p), so the expected value of each
    output equals its input. A new random mask is drawn on every call. In eval mode the input is
    returned unchanged. p = 0 keeps everything (identity); p = 1 zeroes everything (and must not
    produce nan from 0 / 0). The input is never modified in place.

    Args:
        p: probability of zeroing an entry.

    Raises:
        ValueError: if p is not in [0, 1].
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        # TODO: check p and keep it.
        raise NotImplementedError("2.6: implement Dropout.__init__")

    def forward(self, x: Tensor) -> Tensor:
        """x of any shape → a tensor of the same shape and dtype."""
        # TODO: identity in eval mode; otherwise a random keep-mask and the 1 / (1 - p) scaling.
        raise NotImplementedError("2.6: implement Dropout.forward")
