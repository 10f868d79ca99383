"""Lesson 2.5 — Mini-batching and Data Pipelines.

You will build the data side of a training loop with PyTorch's own tools: a Dataset that pairs
inputs with targets, a DataLoader that batches and shuffles them reproducibly, and the two loops
every project needs: one epoch of training and one pass of evaluation.

Shapes: X [N, ...] inputs, y [N, ...] targets (one row per sample). A loader yields batches
(xb, yb) of up to batch_size rows; the last batch of an epoch may be shorter.

Check your work with:  loopgrader check 2.5
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset


class TensorPairDataset(Dataset[tuple[Tensor, Tensor]]):
    """A dataset of (input, target) pairs held in two tensors with one row per sample."""

    def __init__(self, X: Tensor, y: Tensor) -> None:
        """Keep X and y.

        Raises:
            ValueError: if X and y do not have the same number of samples (len(X) != len(y)).
        """
        # TODO: check the lengths, then store both tensors.
        raise NotImplementedError("2.5: implement TensorPairDataset.__init__")

    def __len__(self) -> int:
        """The number of samples."""
        # TODO
        raise NotImplementedError("2.5: implement TensorPairDataset.__len__")

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """The sample at ``index``: the pair (X[index], y[index])."""
        # TODO
        raise NotImplementedError("2.5: implement TensorPairDataset.__getitem__")


def make_loader(dataset: Dataset[tuple[Tensor, Tensor]], batch_size: int, shuffle: bool,
                seed: int = 0, drop_last: bool = False) -> DataLoader[tuple[Tensor, Tensor]]:
    """A DataLoader over ``dataset`` whose order is reproducible.

    With ``shuffle=True`` every epoch (every ``for xb, yb in loader``) is a new permutation of
    the samples, and two loaders made with the same seed give exactly the same epochs, whatever
    else uses torch's global random state. With ``shuffle=False`` the samples come in order.
    ``drop_last=True`` drops the last batch of an epoch when it is shorter than batch_size.

    Returns:
        A ``torch.utils.data.DataLoader``.
    """
    # TODO: give the DataLoader a torch.Generator of its own, seeded once with ``seed``.
    raise NotImplementedError("2.5: implement make_loader")


def train_epoch(model: nn.Module, loader: DataLoader[tuple[Tensor, Tensor]],
                optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                device: torch.device) -> float:
    """Train ``model`` for one pass over ``loader``: one optimizer step per batch.

    Puts the model in train mode first (it may have been left in eval mode). For each batch:
    move xb and yb to ``device``, clear the gradients, compute loss_fn(model(xb), yb) (a mean
    over the batch), backpropagate, step.

    Returns:
        The epoch's loss as a Python float: the mean of the batch losses weighted by the number
        of samples in each batch (so it is the mean over samples even when the last batch is
        short). Each batch loss is the one computed before that batch's step.
    """
    # TODO: model.train(), then the loop; keep a running sum of loss.item() * batch size.
    raise NotImplementedError("2.5: implement train_epoch")


def evaluate(model: nn.Module, loader: DataLoader[tuple[Tensor, Tensor]], loss_fn: nn.Module,
             device: torch.device) -> float:
    """The model's loss over ``loader``, without training.

    Puts the model in eval mode, builds no autograd graph (``torch.no_grad()`` or
    ``torch.inference_mode()``), moves each batch to ``device``, and never calls backward or
    changes the parameters or their gradients.

    Returns:
        A Python float: the mean of the batch losses weighted by batch size.
    """
    # TODO: model.eval(), then the loop under torch.no_grad().
    raise NotImplementedError("2.5: implement evaluate")
