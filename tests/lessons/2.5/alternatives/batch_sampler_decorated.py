"""Correct, written differently: a BatchSampler, zero_grad(set_to_none=False) at the end of each
iteration, batches moved with a comprehension, a detached tensor accumulator converted once,
and @torch.no_grad() on evaluate."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler


class TensorPairDataset(Dataset):
    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        super().__init__()
        if len(X) != len(y):
            raise ValueError(f"length mismatch: {len(X)} inputs, {len(y)} targets")
        self.X, self.y = X, y

    def __len__(self) -> int:
        return self.X.size(0)

    def __getitem__(self, i: int):
        return (self.X[i], self.y[i])


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int = 0,
                drop_last: bool = False) -> DataLoader:
    base = (RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle
            else SequentialSampler(dataset))
    return DataLoader(dataset, batch_sampler=BatchSampler(base, batch_size, drop_last))


def train_epoch(model: nn.Module, loader, optimizer, loss_fn, device) -> float:
    model.train()
    total = None
    count = 0
    for batch in loader:
        xb, yb = [t.to(device) for t in batch]
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        part = loss.detach() * xb.size(0)
        total = part if total is None else total + part
        count += xb.size(0)
    return total.item() / count


@torch.no_grad()
def evaluate(model: nn.Module, loader, loss_fn, device) -> float:
    model.eval()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb = xb.to(device)
        yb = yb.to(device)
        total += loss_fn(model(xb), yb).item() * xb.size(0)
        count += xb.size(0)
    return total / count
