"""Correct, written differently: out-of-place arithmetic with p.copy_, state created eagerly in
__init__ for every parameter, hyperparameters unpacked per group, explicit bias-corrected moments."""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class SGDMomentum(Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.9):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        loss = torch.enable_grad()(closure)() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "v" in state:
                    state["v"] = group["momentum"] * state["v"] + p.grad
                else:
                    state["v"] = p.grad.clone()
                p.copy_(p - group["lr"] * state["v"])
        return loss


class RMSProp(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["mean_square"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, closure=None):
        loss = torch.enable_grad()(closure)() if closure is not None else None
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                ms = alpha * self.state[p]["mean_square"] + (1 - alpha) * g ** 2
                self.state[p]["mean_square"] = ms
                p.copy_(p - lr * g / (torch.sqrt(ms) + eps))
        return loss


class Adam(Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(n=0, first=torch.zeros_like(p), second=torch.zeros_like(p))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = (group["lr"], group["betas"], group["eps"],
                                           group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + wd * p
                s = self.state[p]
                s["n"] += 1
                s["first"] = beta1 * s["first"] + (1 - beta1) * g
                s["second"] = beta2 * s["second"] + (1 - beta2) * g * g
                first_hat = s["first"] / (1 - beta1 ** s["n"])
                second_hat = s["second"] / (1 - beta2 ** s["n"])
                p.copy_(p - lr * first_hat / (second_hat.sqrt() + eps))
        return loss
