"""Correct, written differently: NLLLoss on log_softmax, zero_grad after each step (the
gradients start empty), batches moved with a generator expression, a norm from per-parameter
norms squared, thresholds on gradient norms."""

import math
from typing import List, Tuple

import torch
from torch import nn


def buggy_train(model, train_loader, val_loader, optimizer, device, epochs):
    raise RuntimeError("not used")


def _loss(model, batch, device):
    inputs, labels = (t.to(device) for t in batch)
    logits = model(inputs)
    return nn.functional.nll_loss(torch.log_softmax(logits, dim=1), labels), len(labels)


def train(model, train_loader, val_loader, optimizer, device,
          epochs) -> Tuple[List[float], List[float]]:
    train_curve: List[float] = []
    val_curve: List[float] = []
    optimizer.zero_grad()
    for _ in range(epochs):
        model.train(True)
        seen, acc = 0, 0.0
        for batch in train_loader:
            loss, n = _loss(model, batch, device)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            acc += float(loss) * n
            seen += n
        train_curve.append(acc / seen)
        model.train(False)
        seen, acc = 0, 0.0
        with torch.no_grad():
            for batch in val_loader:
                loss, n = _loss(model, batch, device)
                acc += float(loss) * n
                seen += n
        val_curve.append(acc / seen)
    model.train(True)
    return train_curve, val_curve


class TrainingMonitor:
    def __init__(self) -> None:
        self.history = []

    def log(self, step, loss, model, optimizer) -> None:
        total = 0.0
        for p in model.parameters():
            if p.grad is not None:
                total += p.grad.norm().item() ** 2
        self.history.append({"step": step, "loss": loss, "grad_norm": math.sqrt(total),
                             "lr": optimizer.param_groups[0]["lr"]})

    def diagnose(self):
        codes = []
        losses = [r["loss"] for r in self.history]
        norms = [r["grad_norm"] for r in self.history]
        if any(math.isnan(v) or math.isinf(v) for v in losses + norms):
            codes.append("nan")
            return codes
        n = len(losses)
        if n < 6:
            return codes
        if norms[-1] > 1e3 * norms[0] or losses[-1] > 1e3 * losses[0]:
            codes.append("exploding")
        window = losses[n - 6:]
        relative = (window[0] - window[-1]) / abs(window[0])
        if abs(relative) < 1e-3:
            codes.append("plateau")
        return codes
