"""Instructor-only math for lesson 2.3 (trusted process only): the gradients of the known
wrong derivations students write, and the replay of a training run along a list of batches with
the reference's formulas. Public graders import it optionally (see docs/distribution.md)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import torch
from torch import Tensor
from twolayer_problems import Params, true_grads

# Holds reference-level math (the manual backward pass inside the bug variants): never shipped
# to students; public graders fall back to checks without it.
LOOPGRADER_INSTRUCTOR_ONLY = True


NO_TANH = ("the tanh derivative is missing: dL/dz1 = (dL/dh) * (1 - h²), where h = tanh(z1) is "
           "the hidden layer's output")
TANH_ON_Z = ("the tanh derivative was computed from z1 (1 - z1²) instead of from h = tanh(z1) "
             "(1 - h²)")
TANH_TWICE = ("tanh was applied twice in the derivative: use 1 - h² with h = tanh(z1), not "
              "1 - tanh(h)²")
BATCH_ONLY = ("it is out_features times too big: you divided by the batch size N only, but the "
              "MSE is the mean over all N·O entries of the output, so divide by N·O "
              "(diff.numel())")
SUMMED = ("it is N·O times too big: you summed the squared errors where the loss takes their "
          "mean (divide by N·O)")
Z1_FOR_W2 = ("dL/dW2 was computed from the pre-activation z1 instead of the hidden output "
             "h = tanh(z1): dL/dW2 = hᵀ · dL/dout")


def known_bugs(params: Params, X: Tensor, y: Tensor) -> dict[str, Params]:
    """The gradients of the classic wrong derivations, by bug description."""
    p = params
    z1 = X @ p["W1"] + p["b1"]
    h = torch.tanh(z1)
    diff = h @ p["W2"] + p["b2"] - y
    d_out = 2.0 * diff / diff.numel()
    d_h = d_out @ p["W2"].T
    true = true_grads(params, X, y)

    def first_layer(d_z1: Tensor) -> Params:
        return {"W1": X.T @ d_z1, "b1": d_z1.sum(0), "W2": true["W2"], "b2": true["b2"]}

    scale_o = float(diff.shape[1]) if diff.dim() == 2 else 1.0
    return {
        NO_TANH: first_layer(d_h),
        TANH_ON_Z: first_layer(d_h * (1 - z1 * z1)),
        TANH_TWICE: first_layer(d_h * (1 - torch.tanh(h) ** 2)),
        Z1_FOR_W2: {**true, "W2": z1.T @ d_out},
        BATCH_ONLY: {k: v * scale_o for k, v in true.items()},
        SUMMED: {k: v * diff.numel() for k, v in true.items()},
    }


def bugs_for(name: str, params: Params, X: Tensor, y: Tensor) -> dict[str, Tensor]:
    """``known_bugs`` for one parameter (for ``assert_gradient_close``)."""
    true = true_grads(params, X, y)[name]
    return {bug: grads[name] for bug, grads in known_bugs(params, X, y).items()
            if not torch.allclose(grads[name], true)}


def replay(reference: ModuleType, params: Params, X: Tensor, y: Tensor,
           batches: Sequence[Sequence[int]], lr: float) -> tuple[list[float], Params]:
    """Train the reference net along ``batches`` (one step each): batch losses, final params."""
    p0 = params["W1"]
    net = reference.TwoLayerNet(p0.shape[0], p0.shape[1], params["W2"].shape[1])
    net.params = {k: v.detach().clone() for k, v in params.items()}
    losses: list[float] = []
    for batch in batches:
        index = torch.tensor(list(batch), dtype=torch.long)
        loss, grads = net.loss_and_grads(X[index], y[index])
        net.step(grads, lr)
        losses.append(float(loss))
    return losses, net.params
