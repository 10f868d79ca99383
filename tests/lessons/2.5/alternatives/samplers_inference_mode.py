"""Correct, written differently: explicit RandomSampler/SequentialSampler with a generator,
p.grad = None instead of zero_grad(), non_blocking moves, model.train(True)/train(False),
torch.inference_mode() for evaluation, a sum of loss * size divided at the end."""

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler


class TensorPairDataset(Dataset):
    def __init__(self, X, y):
        if X.shape[0] != y.shape[0]:
            raise ValueError("X and y must have the same number of rows")
        self.pairs = (X, y)

    def __len__(self):
        return self.pairs[0].shape[0]

    def __getitem__(self, index):
        X, y = self.pairs
        return X[index], y[index]


def make_loader(dataset, batch_size, shuffle, seed=0, drop_last=False):
    if shuffle:
        g = torch.Generator()
        g.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=g)
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last)


def train_epoch(model, loader, optimizer, loss_fn, device):
    model.train(True)
    weighted, seen = 0.0, 0
    for inputs, targets in loader:
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        n = targets.shape[0]
        weighted += float(loss) * n
        seen += n
    return weighted / seen


def evaluate(model, loader, loss_fn, device):
    model.train(False)
    parts = []
    with torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            parts.append((loss_fn(model(inputs), targets).item(), len(targets)))
    return sum(l * n for l, n in parts) / sum(n for _, n in parts)
