"""Correct, written differently: zero_grad() at the end of the loop, nn.MSELoss on flattened
tensors, a while loop, and .data for the returned values."""

import torch
from torch import nn


def make_data(n_samples=100, noise=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.linspace(-3.0, 3.0, n_samples).unsqueeze(1)
    y = 2.0 * X - 1.0 + noise * torch.randn(n_samples, 1, generator=generator)
    return X, y


def train_linear_regression(X, y, n_epochs=200, lr=0.05, seed=0):
    torch.manual_seed(seed)
    w = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    optimizer = torch.optim.SGD(params=[w, b], lr=lr, momentum=0.0)
    criterion = nn.MSELoss()
    x_flat, y_flat = X.view(-1), y.view(-1)
    losses = []
    epoch = 0
    while epoch < n_epochs:
        prediction = w * x_flat + b
        loss = criterion(prediction, y_flat)
        losses.append(loss.detach().cpu().item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        epoch += 1
    return w.data, b.data, losses
