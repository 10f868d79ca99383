"""Worker-side helpers for lesson 3.7: drive EarlyStopping, BatchNorm1d and augment.

Everything returned is plain data (tensors, numbers, lists, dicts); the graders judge it against
torch's own layer and against the rules of the exercise, in the grader process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.guards import forbid, gate

FORBIDDEN_AT_RUN_TIME = ("torch.nn.functional.batch_norm", "torch.batch_norm",
                         "torch.native_batch_norm")
gate(*FORBIDDEN_AT_RUN_TIME)  # before the student's file is imported (see guards)


# --- early stopping ----------------------------------------------------------------------------

def early_stopping_decisions(student: ModuleType, losses: list[float], patience: int,
                             min_delta: float) -> list[bool]:
    """step() for each scripted loss until it first says stop; the decisions, in order."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    stopper = student.EarlyStopping(patience, min_delta=min_delta)
    decisions: list[bool] = []
    for loss in losses:
        decisions.append(bool(stopper.step(loss, model)))
        if decisions[-1]:
            break
    return decisions


def _small_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _train_in_place(model: nn.Module, generator: torch.Generator) -> None:
    """What an optimizer and a forward pass do: change parameters and buffers in place."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, generator=generator))


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def early_stopping_restore(student: ModuleType, losses: list[float], patience: int,
                           min_delta: float) -> dict[str, Any]:
    """Train (in place) epoch by epoch, stop when told, train more, restore twice."""
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(2)
    model = _small_model()
    stopper = student.EarlyStopping(patience, min_delta=min_delta)
    states: list[dict[str, Tensor]] = []
    for loss in losses:
        _train_in_place(model, generator)
        states.append(_state(model))
        if stopper.step(loss, model):
            break
    _train_in_place(model, generator)
    before_restore = _state(model)
    stopper.restore(model)
    restored = _state(model)
    _train_in_place(model, generator)
    stopper.restore(model)
    return {"states": states, "before_restore": before_restore, "restored": restored,
            "restored_again": _state(model)}


# --- batch normalisation -----------------------------------------------------------------------

def _describe_tensor(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, Tensor) else None


def batchnorm_layout(student: ModuleType, num_features: int) -> dict[str, Any]:
    """A new layer's parameters and buffers; do buffers stay out of autograd in a train step?"""
    with forbid(*FORBIDDEN_AT_RUN_TIME):
        layer = student.BatchNorm1d(num_features)
        before = {name: p.detach().clone() for name, p in layer.named_parameters()}
        buffers = {name: b.detach().clone() for name, b in layer.named_buffers()}
        layer.train()
        x = torch.randn(6, num_features, generator=torch.Generator().manual_seed(3))
        x.requires_grad_(True)  # as the output of an earlier layer would
        layer(x).sum().backward()
    after = {name: bool(b.requires_grad) for name, b in layer.named_buffers()}
    return {"parameters": before, "buffers": buffers, "buffers_require_grad": after}


def batchnorm_run(student: ModuleType, batches: Tensor, x_eval: Tensor, weight: Tensor,
                  bias: Tensor, upstream: Tensor, eps: float, momentum: float) -> dict[str, Any]:
    """Train-mode forwards on each of ``batches`` [B, N, C] (gradients through the first), then
    one eval forward on ``x_eval``."""
    num_features = batches.shape[2]
    with forbid(*FORBIDDEN_AT_RUN_TIME):
        layer = student.BatchNorm1d(num_features, eps=eps, momentum=momentum)
        layer = layer.to(batches[0].dtype)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        layer.train()
        outputs, running = [], []
        grads: dict[str, Any] = {}
        for i, batch in enumerate(batches):
            x = batch.clone().requires_grad_(i == 0)
            out = layer(x)
            outputs.append(out.detach().clone())
            if i == 0:
                (out * upstream).sum().backward()
                grads = {"x": _describe_tensor(x.grad),
                         "weight": _describe_tensor(layer.weight.grad),
                         "bias": _describe_tensor(layer.bias.grad)}
            running.append({"mean": _describe_tensor(getattr(layer, "running_mean", None)),
                            "var": _describe_tensor(getattr(layer, "running_var", None))})
        layer.eval()
        with torch.no_grad():
            eval_out = layer(x_eval.clone())
    return {"train_outputs": outputs, "grads": grads, "running": running,
            "eval_output": eval_out.detach().clone(),
            "running_after_eval": {"mean": _describe_tensor(getattr(layer, "running_mean", None)),
                                   "var": _describe_tensor(getattr(layer, "running_var", None))}}


# --- augmentation ------------------------------------------------------------------------------

def augment_reproducibility(student: ModuleType, x: Tensor, noise_std: float,
                            seed: int) -> dict[str, Any]:
    """Same seed twice (with the global RNG moved in between), then a second draw."""
    torch.manual_seed(100)
    first_gen = torch.Generator().manual_seed(seed)
    start = first_gen.get_state()
    first = student.augment(x.clone(), noise_std, first_gen)
    advanced = not torch.equal(first_gen.get_state(), start)
    torch.manual_seed(200)
    second = student.augment(x.clone(), noise_std, torch.Generator().manual_seed(seed))
    again = student.augment(x.clone(), noise_std, first_gen)
    return {"first": first, "second": second, "again": again, "advanced": advanced}


def augment_untouched(student: ModuleType, x: Tensor, noise_std: float) -> dict[str, Any]:
    """The input after the call, the result, and whether they share memory."""
    original = x.clone()
    out = student.augment(x, noise_std, torch.Generator().manual_seed(5))
    shares = isinstance(out, Tensor) and (out is x or (out.numel() > 0 and
                                                       out.data_ptr() == x.data_ptr()))
    return {"input_after": x.clone(), "original": original, "output": out, "shares": shares}
