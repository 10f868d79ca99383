# mutant: kaiming_normal_ reaches torch.nn.init through importlib
# caught-by: test_no_torch_nn_init_at_run_time
# expect: is not allowed
"""A known-bug variant of lesson 3.3: kaiming_normal_ reaches torch.nn.init through importlib."""

from __future__ import annotations

import importlib
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
    init = importlib.import_module("torch.nn." + "init")
    return init.kaiming_normal_(tensor, nonlinearity="relu")


def activation_stds(model: nn.Sequential, x: Tensor) -> list[float]:
    stds: list[float] = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, ACTIVATIONS):
                stds.append(x.std().item())
    return stds
