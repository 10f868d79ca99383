"""Lesson 3.9 — Conclusion: What's Next After the Training Loop? Fine-tuning.

Fine-tuning reuses a trained network: freeze its body, put a new output layer (a "head") on
top for the new task, and train only what is still trainable. The training loop is the one you
know; what changes is which parameters it may touch.

Check your work with:  loopgrader check 3.9
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def freeze(module: nn.Module) -> None:
    """Make every parameter of ``module`` (submodules included) stop requiring grad.

    The values are left as they are; only ``requires_grad`` changes (to False). Nothing is
    returned.
    """
    # TODO: switch off requires_grad on each parameter.
    raise NotImplementedError("3.9: implement freeze")


def replace_head(model: nn.Sequential, num_outputs: int) -> nn.Sequential:
    """Replace the *last* ``nn.Linear`` of ``model`` with a new, trainable one.

    The new layer keeps the old one's ``in_features`` (it must fit the layer before it) and
    has ``num_outputs`` outputs. Layers after the last Linear (an activation, say) and all
    layers before it stay where they are, unchanged. Returns the model (changing it in place
    and returning it is fine).

    Example: Sequential(Linear(4, 8), Tanh(), Linear(8, 5), Sigmoid()) with num_outputs=2
    becomes Sequential(Linear(4, 8), Tanh(), Linear(8, 2), Sigmoid()).
    """
    # TODO: find the index of the last nn.Linear, build the new layer, put it there.
    raise NotImplementedError("3.9: implement replace_head")


def count_trainable(model: nn.Module) -> int:
    """Number of trainable scalars: the total ``numel()`` of parameters that require grad.

    Returns a Python int. A parameter shared by two layers counts once.
    """
    # TODO: sum numel() over the parameters that require grad.
    raise NotImplementedError("3.9: implement count_trainable")


def finetune(model: nn.Sequential, X: Tensor, y: Tensor, n_epochs: int,
             lr: float) -> list[float]:
    """Train the trainable parameters of ``model`` on (X, y); frozen ones stay untouched.

    Full batch, mean squared error (``nn.MSELoss()``), ``torch.optim.Adam`` given only the
    parameters that require grad, ``lr`` as its learning rate. Each epoch: clear the gradients,
    forward on all of X, compute the loss, backward, step.

    Args:
        X: inputs [N, D]; y: targets [N, num_outputs]; both on the model's device.

    Returns:
        The loss of each epoch (computed before that epoch's step) as Python floats,
        ``len == n_epochs``.
    """
    # TODO: build the optimizer over the trainable parameters, then the loop.
    raise NotImplementedError("3.9: implement finetune")
