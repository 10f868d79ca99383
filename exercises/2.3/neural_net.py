"""Lesson 2.3 — Implementing a Simple Neural Net from Scratch.

You will build a two-layer network with nothing but tensor arithmetic: no nn.Module, no
optimizer, no autograd. Every piece of the training loop is yours: the forward pass, the loss,
the gradients (derived with the chain rule), the parameter update and the mini-batch loop.

The network, for a batch X of N samples:

    z1  = X @ W1 + b1        [N, H]
    h   = tanh(z1)           [N, H]      (hidden layer)
    out = h @ W2 + b2        [N, O]      (linear output)
    L   = mean((out - y)²)               (mean over ALL N·O entries)

Shapes: X [N, D], y [N, O], W1 [D, H], b1 [H], W2 [H, O], b2 [O]
(D = in_features, H = hidden_features, O = out_features).

Rules: no autograd anywhere in this file (no .backward(), no torch.autograd, no torch.func):
the graders read your source for them and run your code where autograd is switched off.

Check your work with:  loopgrader check 2.3
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class TwoLayerNet:
    """A tanh hidden layer followed by a linear output layer, in plain Python.

    The network's whole state is ``self.params``, a dict with the keys "W1", "b1", "W2", "b2".
    ``forward``, ``loss_and_grads`` and ``step`` read the parameters from that dict every time
    they run (the graders put parameters of their own in it), and ``step`` updates the tensors
    in it in place.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 seed: int = 0) -> None:
        """Create the parameters, float32, reproducibly from ``seed``.

        Draw the weights from ``torch.Generator().manual_seed(seed)`` (the same seed gives the
        same network, another seed another one). A good choice: W1 = randn(D, H) / sqrt(D),
        W2 = randn(H, O) / sqrt(H), biases zero. Weights must not all start equal (every
        hidden unit would then learn the same thing).

        Sets:
            self.params: {"W1": [D, H], "b1": [H], "W2": [H, O], "b2": [O]}, float32 tensors.
        """
        # TODO: one generator from the seed, then the four tensors in self.params.
        raise NotImplementedError("2.3: implement TwoLayerNet.__init__")

    def forward(self, X: Tensor) -> Tensor:
        """The network's output for a batch.

        Args:
            X: inputs, shape [N, D], float32 or float64 (the parameters' dtype).

        Returns:
            tanh(X @ W1 + b1) @ W2 + b2, shape [N, O].
        """
        # TODO: the three lines of the forward pass above.
        raise NotImplementedError("2.3: implement TwoLayerNet.forward")

    def loss_and_grads(self, X: Tensor, y: Tensor) -> tuple[float, dict[str, Tensor]]:
        """The MSE loss on a batch and its gradient for every parameter, by hand.

        Args:
            X: inputs, shape [N, D].
            y: targets, shape [N, O].

        Returns:
            (loss, grads): loss a Python float, the mean of (out - y)² over all N·O entries;
            grads a dict with the keys "W1", "b1", "W2", "b2", each of its parameter's shape and
            dtype. Neither X, y nor the parameters are modified.
        """
        # TODO: run the forward pass keeping z1/h, then apply the chain rule backwards:
        # dL/dout, then W2 and b2, then back through W2 and tanh (tanh'(z) = 1 - tanh(z)²),
        # then W1 and b1. Biases sum their gradient over the batch.
        raise NotImplementedError("2.3: implement TwoLayerNet.loss_and_grads")

    def step(self, grads: dict[str, Tensor], lr: float) -> None:
        """One step of gradient descent, in place: param <- param - lr * grads[name].

        The tensors in ``self.params`` stay the same objects (update them in place, e.g. with
        ``-=`` or ``sub_``); ``grads`` is not modified.
        """
        # TODO: update each of the four parameters in place.
        raise NotImplementedError("2.3: implement TwoLayerNet.step")


def train(net: TwoLayerNet, X: Tensor, y: Tensor, lr: float = 0.1, n_epochs: int = 200,
          batch_size: int = 32, seed: int = 0) -> list[float]:
    """Train ``net`` with mini-batch gradient descent, using its loss_and_grads and step.

    Create ONE ``torch.Generator().manual_seed(seed)`` before the first epoch. Every epoch,
    draw ``order = torch.randperm(N, generator=generator)`` and walk through it in consecutive
    chunks of ``batch_size`` indices (the last chunk may be shorter: no sample is dropped). For
    each chunk: compute the loss and gradients of that batch at the current parameters, then
    take one step with them.

    Args:
        X: inputs [N, D]; y: targets [N, O].

    Returns:
        One Python float per epoch: the epoch's loss, the mean of its batch losses weighted by
        the batch sizes (so a short last batch counts for less), each batch loss being the one
        computed before that batch's step.
    """
    # TODO: the generator, then for each epoch a permutation and a loop over its chunks.
    raise NotImplementedError("2.3: implement train")


def make_sine_data(n: int = 200, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A toy regression problem: X [n, 1] evenly spaced on [-pi, pi], y = sin(X) + a little
    noise (std 0.05, from ``seed``). Provided; try ``train(TwoLayerNet(1, 16, 1), *make_sine_data(),
    lr=0.05, n_epochs=300)``."""
    g = torch.Generator().manual_seed(seed)
    X = torch.linspace(-math.pi, math.pi, n).unsqueeze(1)
    y = torch.sin(X) + 0.05 * torch.randn(n, 1, generator=g)
    return X, y
