# mutant: activation_stds returns 0-dim tensors
# caught-by: test_activation_stds_values
# expect: python floats
"""A known-bug variant of lesson 3.3: activation_stds returns 0-dim tensors."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    fan_out, fan_in = tensor.shape
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def kaiming_normal_(tensor: Tensor) -> Tensor:
    fan_in = tensor.shape[1]
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / fan_in))


def activation_stds(model: nn.Sequential, x: Tensor) -> list[float]:
    stds: list[float] = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, ACTIVATIONS):
                stds.append(x.std())
    return stds
