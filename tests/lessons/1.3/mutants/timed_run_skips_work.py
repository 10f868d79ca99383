# mutant: trains only one epoch on large inputs (fewer steps in the timed run)
# caught-by: test_train_speed
# expect: did not train
"""A known-bug variant of lesson 1.3: speed without the work."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn


def updates_per_epoch(n_samples: int, batch_size: int, drop_last: bool = False) -> int:
    if drop_last:
        return n_samples // batch_size
    return (n_samples + batch_size - 1) // batch_size


def iterate_minibatches(X: Tensor, y: Tensor, batch_size: int, shuffle: bool = True,
                        generator: torch.Generator | None = None
                        ) -> Iterator[tuple[Tensor, Tensor]]:
    n = X.shape[0]
    if shuffle:
        order = torch.randperm(n, generator=generator).to(X.device)
    else:
        order = torch.arange(n, device=X.device)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield X[index], y[index]


def train(X: Tensor, y: Tensor, batch_size: int, n_epochs: int, lr: float, shuffle: bool = True,
          seed: int = 0) -> tuple[nn.Linear, list[float]]:
    torch.manual_seed(seed)
    model = nn.Linear(X.shape[1], 1).to(device=X.device, dtype=X.dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    for _ in range(1 if X.shape[0] >= 1000 else n_epochs):
        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, shuffle=shuffle,
                                                    generator=generator):
            optimizer.zero_grad()
            loss = loss_fn(model(X_batch), y_batch)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model, losses
