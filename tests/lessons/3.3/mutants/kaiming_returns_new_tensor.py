# mutant: kaiming_normal_ returns a new tensor instead of filling the given one in place
# caught-by: test_deep_relu_stack_keeps_scale_with_kaiming
# expect: did not fill the tensor it was given in place
"""A known-bug variant of lesson 3.3: kaiming_normal_ returns a new tensor instead of filling the given one in place."""

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
    return torch.randn(tensor.shape) * math.sqrt(2.0 / fan_in)


def activation_stds(model: nn.Sequential, x: Tensor) -> list[float]:
    stds: list[float] = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, ACTIVATIONS):
                stds.append(x.std().item())
    return stds
