"""Lesson 2.1 — From Linear to Nonlinear: Why Neural Networks?

A straight line cannot separate a ring of points from the ring around it. You will build a small
multilayer perceptron (Linear → activation → Linear), train it as a binary classifier with a
standard PyTorch loop, and measure its accuracy — then watch a plain linear model, trained by the
very same loop, fail on the same data.

Shapes used throughout:
    X: [N, in_features] float inputs, one row per sample
    y: [N, 1] float labels, 0.0 or 1.0 (the shape make_circles returns)
    model(X): [N, 1] logits (raw scores; a logit > 0 means "class 1")

Check your work with:  loopgrader check 2.1
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class MLP(nn.Module):
    """A two-layer perceptron: Linear(in, hidden) → activation → Linear(hidden, out).

    Args:
        in_features: size of each input row.
        hidden_features: number of hidden units.
        out_features: size of each output row (1 for a binary classifier's logit).
        activation: "relu", "sigmoid" or "tanh" (exactly these names).

    Raises:
        ValueError: for any other activation name.

    The model has exactly the parameters of its two linear layers (weights and biases), so
    in*hidden + hidden + hidden*out + out numbers in total.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 activation: str = "relu") -> None:
        super().__init__()
        # TODO: check the activation name (ValueError if unknown), then create the two
        # nn.Linear layers and the activation module (nn.ReLU, nn.Sigmoid or nn.Tanh).
        raise NotImplementedError("2.1: implement MLP.__init__")

    def forward(self, x: Tensor) -> Tensor:
        """x: [N, in_features] → [N, out_features], with the activation between the layers."""
        # TODO: first layer, activation, second layer.
        raise NotImplementedError("2.1: implement MLP.forward")


def make_circles(n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two noisy concentric rings: the outer one (radius 1) is class 0, the inner (0.5) class 1.

    Provided. Returns X of shape [n, 2] and y of shape [n, 1] (0.0 or 1.0), both float32, in a
    shuffled order that depends only on ``seed``.
    """
    g = torch.Generator().manual_seed(seed)
    n_outer = n // 2
    radius = torch.cat([torch.ones(n_outer), torch.full((n - n_outer,), 0.5)])
    angle = 2 * math.pi * torch.rand(n, generator=g)
    X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n_outer), torch.ones(n - n_outer)]).unsqueeze(1)
    order = torch.randperm(n, generator=g)
    return X[order], y[order]


def fit_classifier(model: nn.Module, X: Tensor, y: Tensor, n_epochs: int = 300,
                   lr: float = 0.01) -> list[float]:
    """Train ``model`` in place as a binary classifier, full batch.

    Use ``nn.BCEWithLogitsLoss`` on the model's logits and ``torch.optim.Adam(model.parameters(),
    lr=lr)``. Put the model in training mode (``model.train()``) first. Each epoch is one
    iteration of the loop: clear the gradients, forward pass on all of X, loss, backward, step.

    Works for any ``nn.Module`` mapping [N, D] to [N, 1] logits (your MLP or a plain nn.Linear).

    Returns:
        One Python float per epoch (len == n_epochs): that epoch's loss, computed before its
        optimizer step.
    """
    # TODO: loss function, optimizer, model.train(), then the loop over epochs.
    raise NotImplementedError("2.1: implement fit_classifier")


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Fraction of samples (in [0, 1]) whose predicted class equals y.

    The predicted class is 1 where the logit is > 0 (that is, probability > 0.5), else 0.
    Evaluate in eval mode (``model.eval()``) and without building an autograd graph
    (``torch.no_grad()`` or ``torch.inference_mode()``). Do not change the parameters, and leave
    autograd switched on for the code that runs after you.

    Returns:
        A Python float.
    """
    # TODO: eval mode, no graph, threshold the logits at 0, compare with y, average.
    raise NotImplementedError("2.1: implement accuracy")
