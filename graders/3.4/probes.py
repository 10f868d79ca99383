"""Worker-side helpers for lesson 3.4: build the student's modules, run them, report plain data.

torch's own layer norm and gradient clipping refuse to run while the student's code runs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.guards import forbid, gate

TORCH_LAYER_NORM = ("torch.nn.functional.layer_norm", "torch.layer_norm",
                    "torch.native_layer_norm")
TORCH_CLIPPING = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
                  "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm",
                  "torch.nn.utils.clip_grad.clip_grad_norm_",
                  "torch.nn.utils.clip_grad.clip_grad_norm",
                  "torch.nn.utils.clip_grad._clip_grads_with_norm_",
                  "torch.nn.utils.clip_grad._get_total_norm")
gate(*TORCH_LAYER_NORM, *TORCH_CLIPPING)  # before the student's file is imported (see guards)
DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --- grad_norms ------------------------------------------------------------------------------
def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def norms_after_backward(student: ModuleType, sizes: list[int], state: dict[str, Tensor],
                         X: Tensor, frozen: list[str], used: int) -> Any:
    """Forward X through the first ``used`` layers, backward, then the student's grad_norms."""
    model = mlp(sizes).to(X.dtype)
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)
    out = X
    for layer in list(model)[:used]:
        out = layer(out)
    (out ** 2).mean().backward()
    return student.grad_norms(model)


# --- LayerNorm -------------------------------------------------------------------------------
def describe_params(module: nn.Module) -> dict[str, Any]:
    return {name: {"shape": list(p.shape), "requires_grad": bool(p.requires_grad),
                   "dtype": str(p.dtype).replace("torch.", ""), "value": p.detach().clone()}
            for name, p in module.named_parameters()}


def fresh_layer_norm(student: ModuleType, dim: int) -> dict[str, Any]:
    ln = student.LayerNorm(dim)
    return {"params": describe_params(ln),
            "attributes": {name: isinstance(getattr(ln, name, None), nn.Parameter)
                           for name in ("weight", "bias")}}


def layer_norm_run(student: ModuleType, dim: int, eps: float | None, weight: Tensor | None,
                   bias: Tensor | None, x: Tensor, upstream: Tensor) -> dict[str, Any]:
    """Forward and backward through the student's LayerNorm(dim[, eps]) in x's dtype."""
    ln = student.LayerNorm(dim) if eps is None else student.LayerNorm(dim, eps)
    ln = ln.to(x.dtype)
    with torch.no_grad():
        if weight is not None:
            ln.weight.copy_(weight)
        if bias is not None:
            ln.bias.copy_(bias)
    x = x.detach().clone().requires_grad_(True)
    with forbid(*TORCH_LAYER_NORM):
        out = ln(x)
    if not isinstance(out, Tensor):
        return {"out": out}
    out.backward(upstream)
    return {"out": out.detach(), "x_grad": x.grad,
            "grads": {name: p.grad for name, p in ln.named_parameters()}}


# --- ResidualBlock ---------------------------------------------------------------------------
def _is_norm(module: nn.Module, student: ModuleType) -> bool:
    own = getattr(student, "LayerNorm", None)
    return (isinstance(own, type) and isinstance(module, own)) or isinstance(module, nn.LayerNorm)


def _linears_in_call_order(block: nn.Module, x: Tensor) -> list[nn.Linear]:
    linears = [m for m in block.modules() if isinstance(m, nn.Linear)]
    order: list[nn.Linear] = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m)) for m in linears]
    try:
        with torch.no_grad():
            block(x.detach().clone())
    finally:
        for hook in hooks:
            hook.remove()
    called = list(dict.fromkeys(order))
    return called + [m for m in linears if m not in called]


def residual_block_run(student: ModuleType, dim: int, values: dict[str, Tensor], x: Tensor,
                       upstream: Tensor) -> dict[str, Any]:
    """Set the block's LayerNorm and Linear parameters to ``values`` (Linears in the order the
    forward pass calls them), then forward and backward in float64."""
    block = student.ResidualBlock(dim).to(x.dtype)
    norms = [m for m in block.modules() if m is not block and _is_norm(m, student)]
    linears = _linears_in_call_order(block, x)
    structure = {"norms": len(norms), "linears": [list(m.weight.shape) for m in linears],
                 "n_params": sum(p.numel() for p in block.parameters())}
    if len(norms) != 1 or len(linears) != 2:
        return {"structure": structure}
    with torch.no_grad():
        norms[0].weight.copy_(values["norm.weight"])
        norms[0].bias.copy_(values["norm.bias"])
        for i, linear in enumerate(linears, start=1):
            linear.weight.copy_(values[f"fc{i}.weight"])
            linear.bias.copy_(values[f"fc{i}.bias"])
    x = x.detach().clone().requires_grad_(True)
    out = block(x)
    out.backward(upstream)
    grads = {"norm.weight": norms[0].weight.grad, "norm.bias": norms[0].bias.grad}
    for i, linear in enumerate(linears, start=1):
        grads[f"fc{i}.weight"], grads[f"fc{i}.bias"] = linear.weight.grad, linear.bias.grad
    return {"structure": structure, "out": out.detach(), "x_grad": x.grad, "grads": grads}


def deep_stacks(student: ModuleType, dim: int, depth: int, x: Tensor, r: Tensor,
                seed: int) -> dict[str, Any]:
    """First- and last-layer gradient norms of a residual stack of the student's blocks."""
    torch.manual_seed(seed)
    model = nn.Sequential(*[student.ResidualBlock(dim) for _ in range(depth)]).to(x.dtype)
    (model(x) * r).sum().backward()
    first = _linears_in_call_order(model[0], x)[0]
    last = _linears_in_call_order(model[-1], model[:-1](x))[-1]
    names = {id(p): name for name, p in model.named_parameters()}
    direct = {name: float(p.grad.norm()) for name, p in model.named_parameters()
              if p.grad is not None}
    return {"first": names[id(first.weight)], "last": names[id(last.weight)],
            "direct": direct, "student": student.grad_norms(model)}


# --- clipping --------------------------------------------------------------------------------
def _with_grads(values: list[Tensor], grads: list[Tensor | None]) -> list[nn.Parameter]:
    params = [nn.Parameter(v.detach().clone()) for v in values]
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else g.detach().clone()
    return params


def clip_run(student: ModuleType, values: list[Tensor], grads: list[Tensor | None],
             max_norm: float, as_generator: bool = False) -> dict[str, Any]:
    params = _with_grads(values, grads)
    given: Any = (p for p in params) if as_generator else params
    with forbid(*TORCH_CLIPPING):
        total = student.clip_grad_norm(given, max_norm)
    return {"total": total, "grads": [p.grad for p in params],
            "values": [p.detach().clone() for p in params]}
