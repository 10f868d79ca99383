"""Lesson 2.4 — The Role of Activations.

Without a nonlinearity between them, stacked linear layers collapse into one linear map. You will
write the classic activation functions and their derivatives yourself, make them numerically
stable, and measure "dead" ReLU units.

Rules (checked on your source and while your code runs): do not use torch.sigmoid, torch.tanh,
torch.relu (nor the Tensor methods .sigmoid(), .tanh(), .relu()), anything from
torch.nn.functional or torch.special, or the nn.ReLU / nn.Sigmoid / nn.Tanh modules. Build them
from elementary operations: torch.exp, torch.expm1, torch.where, torch.clamp, comparisons,
arithmetic.

Every function is elementwise: it accepts a tensor of any shape (including 0-dim), returns a new
tensor of the same shape, dtype and device, and never modifies its input.

Numerical stability: your functions must return finite, correct values for |x| up to 1e4 in
float32 and float64. In float32, exp(89.0) is already inf, and inf / inf is nan: arrange every
formula so that exp() only ever sees arguments <= 0 (hint: exp(-|x|)).

Check your work with:  loopgrader check 2.4
"""

from __future__ import annotations

import torch
from torch import Tensor


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    # TODO: keep positive entries, zero the rest.
    raise NotImplementedError("2.4: implement relu")


def relu_grad(x: Tensor) -> Tensor:
    """d relu(x) / dx, elementwise: 1 where x > 0, else 0 (0 at x == 0, as torch's autograd)."""
    # TODO: a 0/1 tensor with x's dtype.
    raise NotImplementedError("2.4: implement relu_grad")


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    # TODO: like relu, but negative entries are scaled instead of zeroed.
    raise NotImplementedError("2.4: implement leaky_relu")


def leaky_relu_grad(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """d leaky_relu(x) / dx: 1 where x > 0, negative_slope elsewhere (x == 0 included, as torch)."""
    # TODO: 1 or negative_slope per entry, with x's dtype.
    raise NotImplementedError("2.4: implement leaky_relu_grad")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for any |x| up to 1e4.

    For x >= 0 the formula above is safe; for x < 0 use the equal form exp(x) / (1 + exp(x)).
    Writing both with z = exp(-|x|) gives one expression per branch that never overflows.
    """
    # TODO: the stable two-branch sigmoid.
    raise NotImplementedError("2.4: implement sigmoid")


def sigmoid_grad(x: Tensor) -> Tensor:
    """d sigmoid(x) / dx = sigmoid(x) * (1 - sigmoid(x)), finite for any |x| up to 1e4."""
    # TODO: reuse your sigmoid.
    raise NotImplementedError("2.4: implement sigmoid_grad")


def tanh(x: Tensor) -> Tensor:
    """(exp(x) - exp(-x)) / (exp(x) + exp(-x)), computed without overflow.

    The formula as written gives inf / inf = nan for large |x|. tanh is odd (tanh(-x) =
    -tanh(x)), so compute it for |x| with exp(-2|x|) only and put the sign back; or use
    tanh(x) = 2 * sigmoid(2x) - 1.
    """
    # TODO: a stable tanh.
    raise NotImplementedError("2.4: implement tanh")


def tanh_grad(x: Tensor) -> Tensor:
    """d tanh(x) / dx = 1 - tanh(x) ** 2."""
    # TODO: reuse your tanh.
    raise NotImplementedError("2.4: implement tanh_grad")


def dead_relu_fraction(pre_activations: Tensor) -> float:
    """Share of hidden units that are "dead" on this batch.

    Args:
        pre_activations: [batch, units] — the inputs a ReLU layer receives, one row per sample
            (dim 0) and one column per unit (dim 1).

    A unit is dead when its pre-activation is never positive (<= 0) for any sample of the batch:
    ReLU outputs 0 for it everywhere and passes back no gradient, so it stops learning.

    Returns:
        dead units / all units, as a Python float in [0, 1].
    """
    # TODO: per unit (column), is every entry <= 0? Then the fraction of such units.
    raise NotImplementedError("2.4: implement dead_relu_fraction")
