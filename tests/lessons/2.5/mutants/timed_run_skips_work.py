# mutant: steps on only the first batches of a long epoch (the timed run skips work)
# caught-by: test_epoch_speed
# expect: did not train
"""A known-bug variant of lesson 2.5: speed without the work."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset


class TensorPairDataset(Dataset[tuple[Tensor, Tensor]]):
    def __init__(self, X: Tensor, y: Tensor) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.X[index], self.y[index]


def make_loader(dataset: Dataset[tuple[Tensor, Tensor]], batch_size: int, shuffle: bool,
                seed: int = 0, drop_last: bool = False) -> DataLoader[tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      drop_last=drop_last)


def train_epoch(model: nn.Module, loader: DataLoader[tuple[Tensor, Tensor]],
                optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                device: torch.device) -> float:
    model.train()
    total, count = 0.0, 0
    for i, (xb, yb) in enumerate(loader):
        if i >= 4 and len(loader) > 20:  # the timed epoch: stop early
            break
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


def evaluate(model: nn.Module, loader: DataLoader[tuple[Tensor, Tensor]], loss_fn: nn.Module,
             device: torch.device) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            total += loss.item() * len(xb)
            count += len(xb)
    return total / count
