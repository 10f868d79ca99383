"""Lesson 3.1 — Optimization Algorithms Beyond SGD.

You will write three optimizers as subclasses of ``torch.optim.Optimizer``, with the same update
rules as torch's own, so that ``SGDMomentum(model.parameters(), lr=0.1)`` can replace
``torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)`` in any training loop.

What ``torch.optim.Optimizer`` already gives you (the constructors below call it):
    self.param_groups   a list of dicts; each has "params" (a list of tensors) and the group's
                        hyperparameters ("lr", "momentum", ... filled from the defaults when a
                        group does not set them). Always read hyperparameters from the group.
    self.state          a dict from parameter to a dict of your choice (empty at first). Keep
                        every per-parameter buffer there, as ``self.state[p]["some_name"]``:
                        ``state_dict()`` / ``load_state_dict()`` save and restore exactly that.
    zero_grad(), state_dict(), load_state_dict(), add_param_group(): inherited, nothing to do.

Rules for every ``step()``:
    - skip parameters whose ``p.grad`` is None (no update, no state change);
    - update parameters in place, without building an autograd graph: decorate ``step`` with
      ``@torch.no_grad()`` (then ``p.add_(...)`` works on parameters that require grad);
    - each parameter has its own state; create buffers with ``torch.zeros_like(p)`` so they keep
      the parameter's shape, dtype and device;
    - do not use torch's optimizers (``torch.optim.SGD``, ``RMSprop``, ``Adam``, ...): the point is
      to write the update rules yourself.

Update rules, for a parameter p with gradient g (all operations elementwise):
    SGDMomentum  v = g at the first step, afterwards v = momentum * v + g
                 p = p - lr * v
    RMSProp      s = alpha * s + (1 - alpha) * g**2          (s starts at 0)
                 p = p - lr * g / (sqrt(s) + eps)
    Adam         g = g + weight_decay * p                    (added to the gradient)
                 t = t + 1                                   (each parameter counts its own steps)
                 m = beta1 * m + (1 - beta1) * g             (m and v start at 0)
                 v = beta2 * v + (1 - beta2) * g**2
                 m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
                 p = p - lr * m_hat / (sqrt(v_hat) + eps)

Check your work with:  loopgrader check 3.1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SGDMomentum(torch.optim.Optimizer):
    """SGD with momentum, as ``torch.optim.SGD(params, lr, momentum=momentum)``.

    Dampening 0, no Nesterov, no weight decay. Per-parameter state: the velocity buffer.
    """

    def __init__(self, params: Params, lr: float, momentum: float = 0.9) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate: {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"invalid momentum: {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient.

        Args:
            closure: optional; if given, call it (with grad enabled) to recompute the loss
                first, and return what it returns. Otherwise return None.
        """
        # TODO: for each group and each parameter with a gradient, update the velocity in
        # self.state[p] (a copy of the gradient at the first step) and move p by -lr * velocity.
        raise NotImplementedError("3.1: implement SGDMomentum.step")


class RMSProp(torch.optim.Optimizer):
    """RMSProp, as ``torch.optim.RMSprop(params, lr, alpha, eps)`` (not centered, no momentum).

    eps is added after the square root. Per-parameter state: the running average of g**2.
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate: {lr}")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient (closure as in SGDMomentum)."""
        # TODO: update the running average of squared gradients, then divide the gradient by
        # (its square root + eps).
        raise NotImplementedError("3.1: implement RMSProp.step")


class Adam(torch.optim.Optimizer):
    """Adam, as ``torch.optim.Adam(params, lr, betas, eps, weight_decay)`` (amsgrad off).

    Weight decay is L2 added to the gradient (that is torch's Adam; AdamW decouples it).
    Per-parameter state: the step count and the two moment estimates.
    """

    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate: {lr}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient (closure as in SGDMomentum)."""
        # TODO: add weight decay to the gradient, update the step count and both moments in
        # self.state[p], correct their bias, then move p.
        raise NotImplementedError("3.1: implement Adam.step")
