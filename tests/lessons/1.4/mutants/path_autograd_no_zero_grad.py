# mutant: path with autograd, gradients never cleared between steps
# caught-by: test_path_with_autograd_clears_gradients
# expect: not cleared
"""A known-bug variant of lesson 1.4."""

import torch


def loss_surface(X, y, w_values, b_values):
    n = X.numel()
    sx, sy = X.sum(), y.sum()
    sxx, syy, sxy = (X * X).sum(), (y * y).sum(), (X * y).sum()
    w = w_values.unsqueeze(1)
    b = b_values.unsqueeze(0)
    total = w * w * sxx + 2 * w * b * sx - 2 * w * sxy + n * b * b - 2 * b * sy + syy
    return total / n


def gradient_descent_path(X, y, w0, b0, lr, n_steps):
    params = torch.tensor([w0, b0], dtype=X.dtype, device=X.device, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr)
    rows = [params.detach().clone()]
    for _ in range(n_steps):
        loss = torch.mean((params[0] * X + params[1] - y) ** 2)
        loss.backward()
        optimizer.step()
        rows.append(params.detach().clone())
    return torch.stack(rows)
