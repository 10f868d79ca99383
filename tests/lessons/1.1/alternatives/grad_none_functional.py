"""Correct, written differently: p.grad = None to clear, F.mse_loss, float(loss), .clone()."""

import torch
import torch.nn.functional as F


def make_data(n_samples=100, noise=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.linspace(-3.0, 3.0, n_samples).unsqueeze(1)
    y = 2.0 * X - 1.0 + noise * torch.randn(n_samples, 1, generator=generator)
    return X, y


def train_linear_regression(X, y, n_epochs=200, lr=0.05, seed=0):
    torch.manual_seed(seed)
    params = [torch.randn(1, dtype=X.dtype, device=X.device).requires_grad_()
              for _ in range(2)]
    w, b = params
    sgd = torch.optim.SGD(params, lr)
    history = []
    for epoch in range(n_epochs):
        for p in params:
            p.grad = None
        loss = F.mse_loss(torch.addcmul(b, X, w), y)
        history.append(float(loss))
        loss.backward()
        sgd.step()
    return w.detach().clone(), b.detach().clone(), history
