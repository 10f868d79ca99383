"""Correct, written differently: torch-style in-place ops (lerp_, addcmul_, addcdiv_), a `with
torch.no_grad()` block instead of the decorator, the step count stored as a tensor, other key names."""

import math

import torch


class SGDMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with torch.no_grad():
            for group in self.param_groups:
                lr, mu = group["lr"], group["momentum"]
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    st = self.state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = torch.clone(g).detach()
                        st["momentum_buffer"] = buf
                    else:
                        buf.mul_(mu).add_(g)
                    p.add_(buf, alpha=-lr)
        return loss


class RMSProp(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if len(st) == 0:
                        st["sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["sq"].lerp_(p.grad.square(), 1 - group["alpha"])
                    avg = st["sq"].sqrt().add_(group["eps"])
                    p.addcdiv_(p.grad, avg, value=-group["lr"])
        return loss


class Adam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with torch.no_grad():
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if group["weight_decay"]:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    st = self.state[p]
                    if not st:
                        st["t"] = torch.tensor(0.0)
                        st["m"] = torch.zeros_like(p)
                        st["v"] = torch.zeros_like(p)
                    st["t"] += 1
                    t = st["t"].item()
                    st["m"].lerp_(grad, 1 - b1)
                    st["v"].mul_(b2).addcmul_(grad, grad.conj(), value=1 - b2)
                    step_size = group["lr"] / (1 - b1 ** t)
                    denom = (st["v"].sqrt() / math.sqrt(1 - b2 ** t)).add_(group["eps"])
                    p.addcdiv_(st["m"], denom, value=-step_size)
        return loss
