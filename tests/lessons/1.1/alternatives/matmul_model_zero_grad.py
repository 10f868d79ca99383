"""Correct, written differently: parameters in a dict, X @ w with an explicit column,
grad.zero_() by hand before backward, torch.no_grad() only for bookkeeping."""

import torch


def make_data(n_samples=100, noise=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.linspace(-3.0, 3.0, n_samples).unsqueeze(1)
    y = 2.0 * X - 1.0 + noise * torch.randn(n_samples, 1, generator=generator)
    return X, y


def train_linear_regression(X, y, n_epochs=200, lr=0.05, seed=0):
    torch.manual_seed(seed)
    params = {}
    params["w"] = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    params["b"] = torch.randn(1, dtype=X.dtype, device=X.device, requires_grad=True)
    opt = torch.optim.SGD(params.values(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        for p in params.values():
            if p.grad is not None:
                p.grad.zero_()
        residual = X @ params["w"].unsqueeze(0) + params["b"] - y
        loss = residual.pow(2).sum() / residual.numel()
        with torch.no_grad():
            losses.append(loss.item())
        loss.backward()
        opt.step()
    return params["w"].detach(), params["b"].detach(), losses
