"""Correct, written differently: values drawn with torch.rand_like / randn_like and copied in,
activation stds collected with forward hooks."""

import math

import torch
from torch import nn


def xavier_uniform_(tensor, gain=1.0):
    fan_out, fan_in = tensor.size()
    a = gain * (6.0 / (fan_in + fan_out)) ** 0.5
    with torch.no_grad():
        tensor.copy_((torch.rand_like(tensor) * 2 - 1) * a)
    return tensor


def kaiming_normal_(tensor):
    std = (2.0 / tensor.size(1)) ** 0.5
    with torch.no_grad():
        tensor.copy_(torch.randn_like(tensor) * std)
    return tensor


def activation_stds(model, x):
    found = []

    def hook(module, inputs, output):
        found.append(torch.std(output).item())

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid))]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return found
