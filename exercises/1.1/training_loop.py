"""Lesson 1.1 — Introduction: What is a Training Loop?

A training loop repeats four moves until the model is good enough:

    1. forward:   compute predictions from the current parameters
    2. loss:      measure how wrong they are (one number)
    3. backward:  loss.backward() fills each parameter's .grad
    4. update:    optimizer.step() moves the parameters against their gradients

and, before each backward, the old gradients are cleared (optimizer.zero_grad()), because
PyTorch *adds* new gradients to whatever .grad already holds.

Here you write that loop for the smallest model there is, a line y ≈ w·x + b, trained with
torch.optim.SGD on the whole data set at every step ("full batch").

Shapes used throughout:
    X: [N, 1] inputs, y: [N, 1] targets, w: [1], b: [1]

Check your work with:  loopgrader check 1.1
"""

from __future__ import annotations

import torch
from torch import Tensor


def make_data(n_samples: int = 100, noise: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Points on the line y = 2x - 1 with Gaussian noise (provided: nothing to do here).

    Args:
        n_samples: number of points N.
        noise: standard deviation of the noise added to y.
        seed: seed of the generator that draws the noise (same seed, same data).

    Returns:
        (X, y): X of shape [N, 1], evenly spaced on [-3, 3]; y of shape [N, 1],
        y = 2·X - 1 + noise·ε with ε ~ N(0, 1). Both float32.
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.linspace(-3.0, 3.0, n_samples).unsqueeze(1)
    y = 2.0 * X - 1.0 + noise * torch.randn(n_samples, 1, generator=generator)
    return X, y


def train_linear_regression(X: Tensor, y: Tensor, n_epochs: int = 200, lr: float = 0.05,
                            seed: int = 0) -> tuple[Tensor, Tensor, list[float]]:
    """Fit y ≈ X·w + b with torch.optim.SGD on the full batch, one update per epoch.

    Set-up, in this order (so that your run can be compared with the reference's, number for
    number):
        - torch.manual_seed(seed)
        - w = torch.randn(1, ...) then b = torch.randn(1, ...), each with X's dtype and
          device and requires_grad=True
        - an optimizer torch.optim.SGD over [w, b] with learning rate lr

    Then, for each of the n_epochs epochs:
        - clear the gradients;
        - predictions X * w + b (shape [N, 1], like y) and the mean squared error over all
          entries;
        - record that loss as a Python float (loss.item()): the loss *before* this epoch's
          update;
        - backward, then one optimizer step.

    Args:
        X: inputs, shape [N, 1].
        y: targets, shape [N, 1].
        n_epochs: number of epochs (= number of updates).
        lr: learning rate of SGD.
        seed: seed for the initial w and b.

    Returns:
        (w, b, losses): w and b of shape [1] with X's dtype, *detached* from the graph
        (w.detach(): requires_grad False); losses a list of n_epochs Python floats,
        losses[0] being the loss at the initial w and b.
    """
    # TODO: set up w, b and the optimizer as described, then write the loop:
    # zero_grad, forward, loss, record loss.item(), backward, step.
    raise NotImplementedError("1.1: implement train_linear_regression")
