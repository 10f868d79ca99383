"""Correct, written differently: torch.where everywhere, the classic two-branch sigmoid
(exp(x) / (1 + exp(x)) below zero), tanh as 2·sigmoid(2x) - 1, dead units via any()."""

import torch


def relu(x):
    return torch.where(x > 0, x, 0.0)


def relu_grad(x):
    return torch.where(x > 0, 1.0, 0.0).to(x.dtype)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x, negative_slope=0.01):
    return torch.where(x > 0, torch.ones_like(x), negative_slope * torch.ones_like(x))


def sigmoid(x):
    positive = 1.0 / (1.0 + torch.exp(-x))
    negative = torch.exp(x) / (1.0 + torch.exp(x))
    return torch.where(x >= 0, positive, negative)


def sigmoid_grad(x):
    s = sigmoid(x)
    return s - s * s


def tanh(x):
    return 2.0 * sigmoid(2.0 * x) - 1.0


def tanh_grad(x):
    t = tanh(x)
    return 1.0 - t * t


def dead_relu_fraction(pre_activations):
    alive = (pre_activations > 0).any(dim=0)
    return 1.0 - alive.float().mean().item()
