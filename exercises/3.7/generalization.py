"""Lesson 3.7 — Modern Regularization and Generalization.

Three tools that help a network generalise, written by hand:

- ``EarlyStopping`` watches the validation loss, says when to stop, and can bring back the
  weights of the best epoch;
- ``BatchNorm1d`` normalises each feature with the batch's statistics while training and with
  running averages of them at evaluation time (the same layer as ``torch.nn.BatchNorm1d``);
- ``augment`` adds Gaussian noise to inputs, reproducibly, from a ``torch.Generator``.

Shapes: BatchNorm1d takes x of shape [N, C] (N samples, C features).

Check your work with:  loopgrader check 3.7
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn


class EarlyStopping:
    """Stop training when the validation loss has not improved for ``patience`` epochs.

    An epoch's loss is an *improvement* when ``val_loss < best - min_delta`` (strictly), where
    ``best`` is the lowest loss seen so far (``math.inf`` before the first call). An improvement
    stores ``val_loss`` as the new best, resets the count of epochs without improvement to 0,
    and takes a snapshot of the model's state (``model.state_dict()``: parameters and buffers)
    as an independent deep copy, so that later training cannot change it. Any other epoch adds
    1 to the count.

    Example with patience=2, min_delta=0: losses 1.0, 0.8, 0.8, 0.9 give step() results
    False, False, False, True (0.8 equal to the best is not an improvement).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        """Keep patience and min_delta; start with best = math.inf, count 0, no snapshot."""
        # TODO: store the settings and the starting state.
        raise NotImplementedError("3.7: implement EarlyStopping.__init__")

    def step(self, val_loss: float, model: nn.Module) -> bool:
        """Record one epoch's validation loss; return True when training should stop.

        Returns True once the count of epochs without improvement reaches ``patience``.
        """
        # TODO: improvement -> new best, count = 0, deep-copied snapshot; else count += 1.
        raise NotImplementedError("3.7: implement EarlyStopping.step")

    def restore(self, model: nn.Module) -> None:
        """Load the snapshot of the best epoch into ``model`` (in place).

        The snapshot stays intact: restoring, training further and restoring again brings back
        the same best weights.
        """
        # TODO: load the snapshot into the model.
        raise NotImplementedError("3.7: implement EarlyStopping.restore")


class BatchNorm1d(nn.Module):
    """Batch normalisation over the batch dimension of x [N, C], as ``torch.nn.BatchNorm1d``.

    Attributes (the same names as torch's layer):
        weight: parameter [C], starts at ones;  bias: parameter [C], starts at zeros.
        running_mean: buffer [C], starts at zeros;  running_var: buffer [C], starts at ones.
        Register the running statistics with ``self.register_buffer`` so that they are saved
        in the state dict and follow ``.to(...)``, but are not trained.

    Train mode (``self.training``): normalise with the batch mean and the *biased* batch
    variance (divide by N), then scale by weight and shift by bias:
        y = (x - mean) / sqrt(var + eps) * weight + bias
    and update the running statistics (outside the autograd graph) with
        running = (1 - momentum) * running + momentum * batch_statistic
    where the running variance uses the *unbiased* batch variance (divide by N - 1).

    Eval mode: normalise with running_mean and running_var instead, and leave them unchanged.

    Do not use torch.nn.functional.batch_norm, torch.batch_norm or torch.nn.BatchNorm1d.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        # TODO: store eps and momentum; create weight, bias (nn.Parameter) and the two buffers.
        raise NotImplementedError("3.7: implement BatchNorm1d.__init__")

    def forward(self, x: Tensor) -> Tensor:
        """Normalise x [N, C]; returns a tensor of the same shape and dtype."""
        # TODO: batch statistics in train mode (and update the running ones), running
        # statistics in eval mode.
        raise NotImplementedError("3.7: implement BatchNorm1d.forward")


def augment(x: Tensor, noise_std: float, generator: torch.Generator) -> Tensor:
    """Return ``x`` plus Gaussian noise of standard deviation ``noise_std``.

    The noise is drawn from ``generator`` (not from torch's global random state), so two
    generators seeded alike give the same result, and successive calls with one generator give
    fresh noise. ``x`` is left untouched: the result is a new tensor with x's shape and dtype.
    """
    # TODO: draw noise of x's shape from the generator (torch.randn(..., generator=...)).
    raise NotImplementedError("3.7: implement augment")
