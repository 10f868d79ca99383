"""Correct, written differently: the cache keeps the ReLU mask (not z1), torch.where for the
ReLU, einsum for the weight gradients, .t() and an explicit float mask."""

import torch


def init_params(in_features, hidden_features, out_features, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return {
        "W1": torch.randn(in_features, hidden_features, generator=g, dtype=dtype),
        "b1": torch.zeros(hidden_features, dtype=dtype),
        "W2": torch.randn(hidden_features, out_features, generator=g, dtype=dtype),
        "b2": torch.zeros(out_features, dtype=dtype),
    }


def forward(x, params):
    pre = torch.matmul(x, params["W1"]) + params["b1"]
    active = pre > 0
    hidden = torch.where(active, pre, torch.zeros_like(pre))
    out = torch.matmul(hidden, params["W2"]) + params["b2"]
    cache = {"input": x, "active": active.to(x.dtype), "hidden": hidden,
             "W1": params["W1"], "W2": params["W2"]}
    return out, cache


def backward(dout, cache):
    grads = {}
    grads["W2"] = torch.einsum("nh,no->ho", cache["hidden"], dout)
    grads["b2"] = torch.einsum("no->o", dout)
    d_hidden = dout @ cache["W2"].t()
    d_pre = d_hidden * cache["active"]
    grads["W1"] = torch.einsum("nd,nh->dh", cache["input"], d_pre)
    grads["b1"] = torch.einsum("nh->h", d_pre)
    grads["x"] = d_pre @ cache["W1"].t()
    return grads
