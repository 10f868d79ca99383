"""Correct, written differently: p.grad = None, torch.inference_mode, summed losses divided by
len(loader.dataset), non_blocking moves, a vector_norm monitor with other thresholds."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def buggy_train(model, train_loader, val_loader, optimizer, device, epochs):
    raise RuntimeError("not used")


def train(model, train_loader, val_loader, optimizer, device, epochs):
    history_train, history_val = [], []
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for inputs, labels in train_loader:
            inputs = inputs.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            for p in params:
                p.grad = None
            logits = model(inputs)
            loss_sum = F.cross_entropy(logits, labels, reduction="sum")
            (loss_sum / labels.shape[0]).backward()
            optimizer.step()
            running += loss_sum.item()
        history_train.append(running / len(train_loader.dataset))

        model.eval()
        running = 0.0
        with torch.inference_mode():
            for inputs, labels in val_loader:
                inputs, labels = inputs.to(device), labels.to(device)
                running += F.cross_entropy(model(inputs), labels, reduction="sum").item()
        history_val.append(running / len(val_loader.dataset))
        model.train()
    return history_train, history_val


class TrainingMonitor:
    def __init__(self):
        self.history = []

    def log(self, step, loss, model, optimizer):
        grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.cat(grads)).item() if grads else 0.0
        self.history.append({"step": int(step), "loss": float(loss), "grad_norm": norm,
                             "lr": optimizer.param_groups[0]["lr"]})

    def diagnose(self):
        losses = [h["loss"] for h in self.history]
        norms = [h["grad_norm"] for h in self.history]
        if not all(map(math.isfinite, losses)) or not all(map(math.isfinite, norms)):
            return ["nan"]
        found = []
        if len(losses) < 8:
            return found
        if max(losses[-3:]) > 100 * min(losses[:3]):
            found.append("exploding")
        tail = losses[-8:]
        mean = sum(tail) / len(tail)
        spread = math.sqrt(sum((v - mean) ** 2 for v in tail) / len(tail))
        if "exploding" not in found and spread < 1e-4 * abs(mean):
            found.append("plateau")
        ups = sum(1 for a, b in zip(tail, tail[1:]) if b > a)
        downs = sum(1 for a, b in zip(tail, tail[1:]) if b < a)
        if "exploding" not in found and ups >= 3 and downs >= 3:
            found.append("oscillating")
        return found
