"""Worker-side helpers for lesson 2.3: run the student's net and training loop without autograd.

Every call into student code here runs under ``no_autograd()``: backward() and
torch.autograd.grad refuse to run and no graph is built. The training-loop probes hand the
student's ``train`` a grader-written network (``RecordingNet``) that computes correct gradients
and records, as plain data, which batches were used and which gradients each step received.
What these helpers return is a claim: the tests judge it against a replay made in the grader
process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from loopgrader.probes.devices import synchronize
from loopgrader.probes.guards import allow_autograd, no_autograd
from loopgrader.probes.summary import trained_summary

NAMES = ("W1", "b1", "W2", "b2")
KEEP_GRADS = 4  # gradients of the most recent calls kept for matching a step to its call


def _params(*tensors: Tensor) -> dict[str, Tensor]:
    return dict(zip(NAMES, tensors, strict=True))


def _student_net(student: ModuleType, params: dict[str, Tensor]) -> Any:
    """The student's TwoLayerNet with the grader's parameters installed in ``net.params``."""
    d, h = params["W1"].shape
    o = params["W2"].shape[1]
    net = student.TwoLayerNet(int(d), int(h), int(o), seed=0)
    if not isinstance(getattr(net, "params", None), dict):
        raise TypeError("TwoLayerNet(...).params must be a dict with the keys W1, b1, W2, b2, "
                        f"got {type(getattr(net, 'params', None)).__name__}")
    for name in NAMES:
        net.params[name] = params[name].clone()
    return net


def new_net(student: ModuleType, d: int, h: int, o: int, seed: int) -> Any:
    with no_autograd():
        net = student.TwoLayerNet(d, h, o, seed=seed)
    params = getattr(net, "params", None)
    return dict(params) if isinstance(params, dict) else params


def net_forward(student: ModuleType, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor,
                X: Tensor) -> Any:
    with no_autograd():
        net = _student_net(student, _params(W1, b1, W2, b2))
        return net.forward(X)


def net_loss_and_grads(student: ModuleType, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor,
                       X: Tensor, y: Tensor) -> Any:
    with no_autograd():
        net = _student_net(student, _params(W1, b1, W2, b2))
        return net.loss_and_grads(X, y)


def net_inputs_after_loss_and_grads(student: ModuleType, W1: Tensor, b1: Tensor, W2: Tensor,
                                    b2: Tensor, X: Tensor, y: Tensor) -> Any:
    with no_autograd():
        net = _student_net(student, _params(W1, b1, W2, b2))
        net.loss_and_grads(X, y)
        return {"params": dict(net.params), "X": X, "y": y}


def net_step(student: ModuleType, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor,
             dW1: Tensor, db1: Tensor, dW2: Tensor, db2: Tensor, lr: float) -> Any:
    grads = _params(dW1, db1, dW2, db2)
    with no_autograd():
        net = _student_net(student, _params(W1, b1, W2, b2))
        before = {name: net.params[name] for name in NAMES}
        net.step(grads, lr)
        after = net.params
        return {"same_object": {name: after.get(name) is before[name] for name in NAMES},
                "params": {name: after.get(name) for name in NAMES}, "grads": grads}


class RecordingNet:
    """A correct TwoLayerNet (grader-written) that records how ``train`` uses it."""

    def __init__(self, params: dict[str, Tensor], X: Tensor, y: Tensor) -> None:
        self.params = {name: params[name].clone() for name in NAMES}
        self._X, self._y = X, y
        self._version = 0  # bumped by every step
        self._recent: list[tuple[int, int, dict[str, Tensor]]] = []  # (call, version, grads)
        self.calls: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []

    def forward(self, X: Tensor) -> Tensor:
        p = self.params
        return torch.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    def loss_and_grads(self, X: Tensor, y: Tensor) -> tuple[float, dict[str, Tensor]]:
        with allow_autograd():  # the grader's own net: autograd, so no formulas ship here
            leaves = {k: v.detach().requires_grad_(True) for k, v in self.params.items()}
            hidden = torch.tanh(X @ leaves["W1"] + leaves["b1"])
            mse = ((hidden @ leaves["W2"] + leaves["b2"] - y) ** 2).mean()
            found = torch.autograd.grad(mse, list(leaves.values()))
        loss = float(mse)
        grads = {k: g.detach() for k, g in zip(leaves, found, strict=True)}
        rows = self._rows(X)
        aligned = bool(rows) and all(i >= 0 for i in rows) and torch.equal(
            y.detach().cpu(), self._y[torch.tensor(rows, dtype=torch.long)])
        self.calls.append({"batch": rows, "aligned": aligned, "loss": loss})
        self._recent.append((len(self.calls) - 1, self._version,
                             {k: v.detach().clone() for k, v in grads.items()}))
        del self._recent[:-KEEP_GRADS]
        return loss, grads

    def step(self, grads: dict[str, Tensor], lr: float) -> None:
        source, stale = -1, False
        for call, version, kept in reversed(self._recent):
            if all(isinstance(grads.get(k), Tensor) and grads[k].shape == kept[k].shape
                   and torch.equal(grads[k].detach().to(kept[k].device), kept[k])
                   for k in NAMES):
                source, stale = call, version != self._version
                break
        self.steps.append({"source": source, "latest": len(self.calls) - 1,
                           "stale_params": stale, "lr": float(lr)})
        for name in NAMES:
            self.params[name].sub_(lr * grads[name])
        self._version += 1

    def _rows(self, X: Tensor) -> list[int]:
        """Index in the full data set of each row of the batch X (-1 when not found)."""
        batch = X.detach().cpu()
        if batch.dim() != 2 or batch.shape[1] != self._X.shape[1]:
            return []
        equal = (batch.unsqueeze(1) == self._X.unsqueeze(0)).all(dim=2)
        found = equal.any(dim=1)
        index = equal.to(torch.int64).argmax(dim=1)
        return [int(i) if ok else -1 for i, ok in zip(index, found, strict=True)]


def train_with_recording_net(student: ModuleType, W1: Tensor, b1: Tensor, W2: Tensor,
                             b2: Tensor, X: Tensor, y: Tensor, lr: float, n_epochs: int,
                             batch_size: int, seed: int) -> Any:
    net = RecordingNet(_params(W1, b1, W2, b2), X, y)
    with no_autograd():
        losses = student.train(net, X, y, lr=lr, n_epochs=n_epochs, batch_size=batch_size,
                               seed=seed)
    return {"losses": losses, "calls": net.calls, "steps": net.steps, "params": net.params}


def train_student_net(student: ModuleType, X: Tensor, y: Tensor, hidden: int, lr: float,
                      n_epochs: int, batch_size: int, seed: int) -> Any:
    with no_autograd():
        net = student.TwoLayerNet(X.shape[1], hidden, y.shape[1], seed=seed)
        losses = student.train(net, X, y, lr=lr, n_epochs=n_epochs, batch_size=batch_size,
                               seed=seed)
        params = getattr(net, "params", None)
    return {"losses": losses, "params": dict(params) if isinstance(params, dict) else params}


def train_for_timing(student: ModuleType, X: Tensor, y: Tensor, hidden: int, device: str,
                     n_epochs: int, batch_size: int, lr: float) -> dict[str, Any]:
    """One training run on ``device`` (timed by the grader, against the reference's)."""
    dev = torch.device(device)
    with no_autograd():
        net = student.TwoLayerNet(X.shape[1], hidden, y.shape[1], seed=0)
        for name in NAMES:
            net.params[name] = net.params[name].to(dev)
        losses = student.train(net, X.to(dev), y.to(dev), lr=lr, n_epochs=n_epochs,
                               batch_size=batch_size, seed=0)
        synchronize(dev)
        try:  # the trained net's loss, measured here (what train reports could be anything)
            measured: float | None = float(((net.forward(X.to(dev)) - y.to(dev)) ** 2).mean())
        except Exception:
            measured = None
    params = getattr(net, "params", None)
    return trained_summary(params if isinstance(params, dict) else {}, losses, measured)
