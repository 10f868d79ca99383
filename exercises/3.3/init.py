"""Lesson 3.3 — Weight Initialization.

You will write two initialisers by hand, the way ``torch.nn.init`` does it (in place, returning
the tensor), and a tool that measures how the scale of the activations changes through a deep
network. With them you can see why a 20-layer ReLU network trains with Kaiming initialisation and
why its signal dies with a tiny one.

Weights are shaped like ``nn.Linear.weight``: ``[fan_out, fan_in]`` (out_features, in_features),
so ``fan_in = tensor.shape[1]`` and ``fan_out = tensor.shape[0]``.

Rules: do not use ``torch.nn.init`` (any of it); use the tensor's own in-place random methods
(``tensor.uniform_``, ``tensor.normal_``) or ``copy_`` into it. Work under ``torch.no_grad()`` so
the initialisers also work on parameters that require grad (``layer.weight``).

Check your work with:  loopgrader check 3.3
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Args:
        tensor: a 2-D weight ``[fan_out, fan_in]`` of any floating dtype (often a Parameter).
        gain: scales the bound (e.g. 5/3 for tanh layers).

    Returns:
        The same tensor object, filled (not a new tensor).
    """
    # TODO: compute the bound from the shape, then fill the tensor in place under no_grad.
    raise NotImplementedError("3.3: implement xavier_uniform_")


def kaiming_normal_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` in place from N(0, std²) with std = sqrt(2 / fan_in) (He init, for ReLU).

    Args:
        tensor: a 2-D weight ``[fan_out, fan_in]`` of any floating dtype (often a Parameter).

    Returns:
        The same tensor object, filled (not a new tensor).
    """
    # TODO: std from fan_in = tensor.shape[1], then fill in place under no_grad.
    raise NotImplementedError("3.3: implement kaiming_normal_")


def activation_stds(model: nn.Sequential, x: Tensor) -> list[float]:
    """Run ``x`` through ``model`` and measure the spread of every activation's output.

    Args:
        model: an ``nn.Sequential`` of layers (Linear, ReLU, Tanh, Sigmoid, ...).
        x: a batch of inputs.

    Returns:
        One Python float per activation module (``nn.ReLU``, ``nn.Tanh`` or ``nn.Sigmoid``, see
        ACTIVATIONS), in the order they run: the standard deviation (``Tensor.std()``) of that
        module's output over the whole batch. No gradients are needed.
    """
    # TODO: pass x through the layers one at a time (or use forward hooks) and record the std
    # of the output of each activation.
    raise NotImplementedError("3.3: implement activation_stds")
