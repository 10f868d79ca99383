"""Correct, written differently: requires_grad_ on the module, a new Sequential returned,
named_parameters, grads set to None by hand, F.mse_loss and float()."""

import torch
import torch.nn.functional as F
from torch import nn


def freeze(module):
    module.requires_grad_(False)


def replace_head(model, num_outputs):
    layers = list(model)
    positions = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
    if not positions:
        raise ValueError("no Linear layer")
    last = positions[-1]
    layers[last] = nn.Linear(layers[last].in_features, num_outputs)
    return nn.Sequential(*layers)


def count_trainable(model):
    total = 0
    for _, p in model.named_parameters():
        if p.requires_grad:
            total += p.numel()
    return total


def finetune(model, X, y, n_epochs, lr):
    params = list(filter(lambda p: p.requires_grad, model.parameters()))
    opt = torch.optim.Adam(params, lr)
    model.train()
    history = []
    for _ in range(n_epochs):
        for p in params:
            p.grad = None
        loss = F.mse_loss(model(X), y)
        loss.backward()
        opt.step()
        history.append(float(loss))
    return history
