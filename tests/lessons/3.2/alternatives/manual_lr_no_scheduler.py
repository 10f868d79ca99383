"""Correct, written differently: closed forms with min/max, the learning rate set by hand in the
param groups each epoch (no scheduler object), F.mse_loss, gradients cleared with p.grad = None."""

import math

import torch
import torch.nn.functional as F


def step_decay(step, base_lr, step_size, gamma):
    n_decays = math.floor(step / step_size)
    return float(base_lr * math.pow(gamma, n_decays))


def cosine_annealing(step, base_lr, total_steps, min_lr=0.0):
    progress = min(step, total_steps) / total_steps
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    if step >= warmup_steps:
        return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)
    return base_lr * (step + 1) / warmup_steps


def train_with_schedule(model, X, y, n_epochs, base_lr, warmup_epochs):
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=base_lr)
    used = []
    for epoch in range(n_epochs):
        lr = warmup_cosine(epoch, base_lr, warmup_epochs, n_epochs)
        for group in opt.param_groups:
            group["lr"] = lr
        for p in params:
            p.grad = None
        F.mse_loss(model(X), y).backward()
        opt.step()
        used.append(lr)
    return used
