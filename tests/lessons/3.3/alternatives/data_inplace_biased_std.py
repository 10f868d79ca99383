"""Correct, written differently: fills through tensor.data (no no_grad block needed), keyword
arguments, and activation stds as the biased estimate under inference_mode."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = tensor.shape[1], tensor.shape[0]
    limit = math.sqrt(6 / (fan_in + fan_out)) * gain
    tensor.data.uniform_(-limit, limit)
    return tensor


def kaiming_normal_(tensor: Tensor) -> Tensor:
    tensor.data.normal_(mean=0.0, std=math.sqrt(2 / tensor.shape[1]))
    return tensor


def activation_stds(model: nn.Sequential, x: Tensor) -> list[float]:
    result: list[float] = []
    h = x
    with torch.inference_mode():
        for _, module in enumerate(model):
            h = module(h)
            if type(module) in (nn.ReLU, nn.Tanh, nn.Sigmoid):
                result.append(float(h.var(unbiased=False).sqrt()))
    return result
