"""Lesson 3.4 — Deeper Networks and Backprop Challenges.

In a deep plain stack, gradients shrink (or grow) layer after layer on their way back, so the
first layers barely learn. You will build the tools that fix and diagnose this: per-parameter
gradient norms, layer normalisation, a pre-norm residual block, and gradient-norm clipping.

Rules: no ``torch.nn.functional.layer_norm`` / ``torch.layer_norm`` / ``nn.LayerNorm`` in your
LayerNorm, and no ``torch.nn.utils.clip_grad_norm_`` (nor ``clip_grads_with_norm_`` or
``get_total_norm``) in your clipping: write them with tensor operations.

Check your work with:  loopgrader check 3.4
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def grad_norms(model: nn.Module) -> dict[str, float]:
    """The L2 norm of every parameter's gradient, after a backward pass.

    Returns:
        ``{name: norm}`` with the names of ``model.named_parameters()`` and each norm a Python
        float. Parameters whose ``.grad`` is None (frozen, or not used by the forward pass) are
        left out.
    """
    # TODO: one dict comprehension over model.named_parameters().
    raise NotImplementedError("3.4: implement grad_norms")


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, as ``nn.LayerNorm(normalized_shape, eps)``.

    For each vector x along the last dimension (size normalized_shape):
        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias
    where var is the biased variance (divide by n, not n - 1) and eps sits inside the square
    root. ``weight`` (initialised to ones) and ``bias`` (zeros) are learnable parameters of shape
    ``[normalized_shape]``, registered under exactly those names.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        super().__init__()
        # TODO: keep eps; create self.weight and self.bias as nn.Parameter.
        raise NotImplementedError("3.4: implement LayerNorm.__init__")

    def forward(self, x: Tensor) -> Tensor:
        """x of shape [..., normalized_shape] → the same shape and dtype."""
        # TODO: mean and biased variance over the last dimension (keepdim=True), normalise,
        # then scale and shift.
        raise NotImplementedError("3.4: implement LayerNorm.forward")


class ResidualBlock(nn.Module):
    """A pre-norm residual block: ``forward(x) = x + f(LayerNorm(x))``.

    f is Linear(dim, dim) → ReLU → Linear(dim, dim); the LayerNorm is the one above. The skip
    connection adds the block's *input* x (not the normalised x) to f's output.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        # TODO: one LayerNorm(dim) and two nn.Linear(dim, dim) (the ReLU has no parameters).
        raise NotImplementedError("3.4: implement ResidualBlock.__init__")

    def forward(self, x: Tensor) -> Tensor:
        """x of shape [batch, dim] → [batch, dim]."""
        # TODO: x + f(norm(x)).
        raise NotImplementedError("3.4: implement ResidualBlock.forward")


def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float) -> float:
    """Clip the gradients of ``parameters`` to a total L2 norm of at most ``max_norm``, in place.

    As ``torch.nn.utils.clip_grad_norm_`` (which you must not call):
        total = sqrt(sum over parameters with a gradient of sum(grad ** 2))
        if max_norm / (total + 1e-6) < 1: multiply every gradient by max_norm / (total + 1e-6)
    Parameters whose ``.grad`` is None are skipped. ``parameters`` may be a generator such as
    ``model.parameters()``, which can be iterated only once.

    Returns:
        The total norm before clipping, as a Python float.
    """
    # TODO: collect the gradients once, compute the total norm, scale in place if needed.
    raise NotImplementedError("3.4: implement clip_grad_norm")
