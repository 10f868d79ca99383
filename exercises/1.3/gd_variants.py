"""Lesson 1.3 — Batch vs. Stochastic Gradient Descent.

One epoch is one pass over the data. How many parameter updates it holds depends on the batch
size B:

    B = N          batch gradient descent: one update per epoch, on the exact gradient
    B = 1          stochastic gradient descent (SGD): N noisy updates per epoch
    1 < B < N      mini-batch gradient descent: ceil(N / B) updates per epoch

Mini-batches are usually drawn in a fresh random order every epoch. To keep runs reproducible
the order comes from a torch.Generator you seed once, and X and y are always indexed with the
*same* permutation, so that every input stays paired with its own target.

Shapes used throughout:
    X: [N, D] inputs, y: [N, 1] targets; a batch is (X_batch [B, D], y_batch [B, 1])

Check your work with:  loopgrader check 1.3
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn


def updates_per_epoch(n_samples: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of batches (= parameter updates) in one epoch.

    Args:
        n_samples: N, the number of samples.
        batch_size: B, samples per batch (B >= 1).
        drop_last: if True, a last batch smaller than B is skipped.

    Returns:
        A Python int: ceil(N / B) normally, floor(N / B) with drop_last=True.
    """
    # TODO: integer arithmetic only (no floating-point division needed).
    raise NotImplementedError("1.3: implement updates_per_epoch")


def iterate_minibatches(X: Tensor, y: Tensor, batch_size: int, shuffle: bool = True,
                        generator: torch.Generator | None = None
                        ) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield (X_batch, y_batch) pairs that cover every sample exactly once.

    The order of one pass:
        - shuffle=True: order = torch.randperm(N, generator=generator), drawn once per call
          (generator=None uses torch's global random generator);
        - shuffle=False: the original order 0, 1, ..., N-1 (nothing is drawn).
    The batches are consecutive slices of that order: order[0:B], order[B:2B], ...; the last
    batch holds the remaining N mod B samples when B does not divide N (it is not dropped).

    Args:
        X: inputs, shape [N, D].
        y: targets, shape [N, 1].
        batch_size: B.
        shuffle: shuffle the samples (True) or keep their order (False).
        generator: the source of randomness for the permutation.

    Yields:
        (X_batch, y_batch) of shapes [b, D] and [b, 1] with b = B (or fewer for the last
        batch); row k of X_batch and row k of y_batch are the same sample.
    """
    # TODO: build the order, then yield X and y indexed by each consecutive slice of it.
    raise NotImplementedError("1.3: implement iterate_minibatches")


def train(X: Tensor, y: Tensor, batch_size: int, n_epochs: int, lr: float, shuffle: bool = True,
          seed: int = 0) -> tuple[nn.Linear, list[float]]:
    """Train a linear model with mini-batch SGD and return it with the loss of every update.

    Set-up, in this order (so that your run can be compared with the reference's):
        - torch.manual_seed(seed), then model = nn.Linear(D, 1) moved to X's device and dtype
          (model.to(device=X.device, dtype=X.dtype));
        - an optimizer torch.optim.SGD(model.parameters(), lr=lr) and the MSE loss;
        - ONE generator, torch.Generator().manual_seed(seed), created once before the epochs.

    Each epoch loops over iterate_minibatches(X, y, batch_size, shuffle=shuffle,
    generator=generator) — the same generator every epoch, so each epoch gets a new order —
    and for every batch: clear the gradients, forward, loss, backward, optimizer step, and
    record the batch's loss as a Python float.

    batch_size = N gives batch gradient descent, batch_size = 1 gives SGD.

    Returns:
        (model, losses): the trained nn.Linear and a list with the loss of every update,
        n_epochs * updates_per_epoch(N, batch_size) floats in the order they happened.
    """
    # TODO: set up as described, then two nested loops: epochs, then batches.
    raise NotImplementedError("1.3: implement train")
