# mutant: returns at once for large inputs (the timed run does not train)
# caught-by: test_finetune_speed
# expect: did not train
"""A known-bug variant of lesson 3.9: speed without the work."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def freeze(module: nn.Module) -> None:
    for param in module.parameters():
        param.requires_grad_(False)


def replace_head(model: nn.Sequential, num_outputs: int) -> nn.Sequential:
    for index in range(len(model) - 1, -1, -1):
        old = model[index]
        if isinstance(old, nn.Linear):
            model[index] = nn.Linear(old.in_features, num_outputs).to(
                device=old.weight.device, dtype=old.weight.dtype)
            return model
    raise ValueError("replace_head: the model has no nn.Linear layer")


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def finetune(model: nn.Sequential, X: Tensor, y: Tensor, n_epochs: int,
             lr: float) -> list[float]:
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    loss_fn = nn.MSELoss()
    model.train()
    losses: list[float] = []
    if X.shape[0] >= 300:  # the timed run: no training
        return [0.0] * n_epochs
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
