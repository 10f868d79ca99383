"""Worker-side helpers for lesson 3.6: run the student's ``train`` and ``TrainingMonitor``.

How the device bug is detected on a machine without a GPU
--------------------------------------------------------
On a CPU-only machine, forgetting ``x.to(device)`` changes nothing, so the loaders of
``train_moving`` yield batches wrapped in ``Unmoved``, a ``torch.Tensor`` subclass that stands
for "data still on the loader's device". Through ``__torch_function__`` it sees every operation
applied to it:

- a move (``.to(...)`` with a device, ``.cuda()``, ``.cpu()``) is recorded with its target
  device and returns an ordinary tensor: moved data is no longer watched;
- metadata reads (``len(x)``, ``x.shape``, ``x.size(0)``, ``x.dtype``, ``.item()``...) and
  conversions that keep the data where it is (``.float()``, ``.view()``, indexing...) are
  allowed and, for conversions, keep the wrapper;
- any other operation (the model's ``linear``, the loss, arithmetic) on a batch that was never
  moved is recorded as a use of unmoved data: on a GPU it would have failed with "Expected all
  tensors to be on the same device".

``x.to(device)`` whose result is thrown away (``x.to(device)`` on a line of its own) is caught
too: the model then receives the original, still-wrapped batch.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data._utils.collate import default_collate

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop

LAYERS: dict[str, Callable[..., nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh,
                                               "batchnorm": nn.BatchNorm1d,
                                               "dropout": nn.Dropout}


def build(spec: list[list[Any]], state: dict[str, Tensor]) -> nn.Sequential:
    layers = []
    for item in spec:
        if item[0] == "linear":
            layers.append(nn.Linear(int(item[1]), int(item[2])))
        else:
            layers.append(LAYERS[str(item[0])](*item[1:]))
    model = nn.Sequential(*layers)
    model.load_state_dict(state)
    return model


def _loader(X: Tensor, y: Tensor, batch_size: int, collate: Any = None) -> DataLoader:
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False,
                      collate_fn=collate)


def _sgd(model: nn.Module, lr: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


def train_traced(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                 data: dict[str, Tensor], batch_sizes: list[int], lr: float, momentum: float,
                 epochs: int) -> dict[str, Any]:
    """train() on CPU, traced; the batch size, mode and grad mode of every forward pass."""
    torch.manual_seed(0)
    model = build(spec, state)
    forwards: list[list[Any]] = []
    handle = model.register_forward_pre_hook(lambda module, args: forwards.append(
        [int(args[0].shape[0]) if args and isinstance(args[0], Tensor) else -1,
         bool(module.training), torch.is_grad_enabled()]))
    train_loader = _loader(data["X"], data["y"], batch_sizes[0])
    val_loader = _loader(data["Xv"], data["yv"], batch_sizes[1])
    try:
        with record_loop() as recorder:
            result = student.train(model, train_loader, val_loader, _sgd(model, lr, momentum),
                                   torch.device("cpu"), epochs)
    finally:
        handle.remove()
    return {"result": result, "log": recorder.log(), "forwards": forwards,
            "state": _state(model), "training": bool(model.training),
            "modes": {name or "model": bool(m.training) for name, m in model.named_modules()}}


# --- the device check --------------------------------------------------------------------------

def _device_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.device | None:
    """The target device of a Tensor.to call (None when it only changes the dtype)."""
    device, _, _, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
    return device


class Unmoved(torch.Tensor):
    """A batch tensor that has not been moved to the training device yet (see the module doc)."""

    # what the current train() call did: targets of moves, "op:batch size" of unmoved uses
    events: ClassVar[dict[str, list[str]]] = {"moves": [], "uses": []}
    METADATA: ClassVar[set[Any]] = {
        torch.Tensor.size, torch.Tensor.dim, torch.Tensor.numel, torch.Tensor.__len__,
        torch.Tensor.__repr__, torch.Tensor.__format__, torch.Tensor.item, torch.Tensor.tolist,
        torch.Tensor.nelement, torch.Tensor.ndimension, torch.Tensor.element_size,
        torch.Tensor.get_device, torch.numel,
    }
    METADATA_GETTERS: ClassVar[set[str]] = {
        "shape", "dtype", "device", "ndim", "is_cuda", "requires_grad", "is_leaf", "layout",
        "grad_fn", "names", "is_mps", "is_cpu", "itemsize", "nbytes"}
    KEEP_PLACE: ClassVar[set[str]] = {
        "float", "double", "long", "int", "half", "bfloat16", "type", "contiguous", "view",
        "view_as", "reshape", "flatten", "squeeze", "unsqueeze", "__getitem__", "clone",
        "detach", "data", "requires_grad_", "to", "type_as", "permute", "transpose", "t",
        "__iter__", "unbind", "__bool__"}

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        owner = getattr(getattr(func, "__self__", None), "__name__", "")
        if name == "__get__":
            name = owner
        if func is torch.Tensor.to and _device_of(args, kwargs) is not None:
            return cls._move(func, args, kwargs, str(_device_of(args, kwargs)))
        if func in (torch.Tensor.cuda, torch.Tensor.cpu):
            return cls._move(func, args, kwargs, "cuda" if func is torch.Tensor.cuda else "cpu")
        if func in cls.METADATA or name in cls.METADATA_GETTERS:
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        if name not in cls.KEEP_PLACE:
            cls.events["uses"].append(f"{name}:{cls._batch_size(args)}")
        return super().__torch_function__(func, types, args, kwargs)

    @classmethod
    def _batch_size(cls, args: Any) -> int:
        """The first dimension of the first unmoved tensor among ``args`` (-1 if none)."""
        flat = [a for arg in args for a in (arg if isinstance(arg, (list, tuple)) else [arg])]
        for item in flat:
            if isinstance(item, Unmoved):
                with torch._C.DisableTorchFunctionSubclass():
                    return int(item.shape[0]) if item.dim() else -1
        return -1

    @classmethod
    def _move(cls, func: Any, args: Any, kwargs: Any, target: str) -> Any:
        cls.events["moves"].append(target)
        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **kwargs)
        return result.as_subclass(torch.Tensor) if isinstance(result, Tensor) else result


def _unmoved_collate(batch: list[Any]) -> tuple[Tensor, ...]:
    return tuple(t.as_subclass(Unmoved) for t in default_collate(batch))


def train_moving(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                 data: dict[str, Tensor], batch_sizes: list[int], device: str,
                 epochs: int) -> dict[str, Any]:
    """train() with loaders whose batches record whether they were moved to the device."""
    target = torch.device(device)
    model = build(spec, state).to(target)
    Unmoved.events = {"moves": [], "uses": []}
    train_loader = _loader(data["X"], data["y"], batch_sizes[0], _unmoved_collate)
    val_loader = _loader(data["Xv"], data["yv"], batch_sizes[1], _unmoved_collate)
    try:
        student.train(model, train_loader, val_loader, _sgd(model, 0.05, 0.0), target, epochs)
    except NotImplementedError:
        raise
    except Exception:
        # on a real GPU, unmoved data makes torch raise a device mismatch: report the uses
        if not Unmoved.events["uses"]:
            raise
    batches = epochs * (len(train_loader) + len(val_loader))
    return {"moves": list(Unmoved.events["moves"]), "uses": list(Unmoved.events["uses"]),
            "batches": batches}


def train_for_timing(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                     data: dict[str, Tensor], batch_sizes: list[int], device: str,
                     epochs: int) -> dict[str, Any]:
    target = torch.device(device)
    model = build(spec, state).to(target)
    train_loader = _loader(data["X"], data["y"], batch_sizes[0])
    val_loader = _loader(data["Xv"], data["yv"], batch_sizes[1])
    torch.manual_seed(0)
    result = student.train(model, train_loader, val_loader, _sgd(model, 0.05, 0.9), target,
                           epochs)
    synchronize(target)
    losses = result[0] if isinstance(result, (tuple, list)) and len(result) == 2 else None
    return trained_summary(model, losses)


# --- the monitor -------------------------------------------------------------------------------

def monitor_log(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                grads: dict[str, Tensor | None], step: int, loss: float,
                lr: float) -> dict[str, Any]:
    """One log() call on a model whose gradients the grader chose; the history afterwards."""
    model = build(spec, state)
    for name, p in model.named_parameters():
        p.grad = None if grads.get(name) is None else grads[name].clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = student.TrainingMonitor()
    monitor.log(step, loss, model, optimizer)
    history = getattr(monitor, "history", None)
    return {"history": history if isinstance(history, list) else None}


RUNS = {
    # name: (learning rate, steps, step at which a NaN enters the data or None)
    "healthy": (0.01, 40, None),
    "exploding": (1.2, 30, None),
    "stalled": (1e-6, 40, None),
    "nan": (0.01, 30, 12),
}


def monitor_run(student: ModuleType, run: str) -> dict[str, Any]:
    """A small regression trained with SGD, logged by the student's monitor at every step."""
    lr, steps, nan_at = RUNS[run]
    g = torch.Generator().manual_seed(3)
    X = torch.randn(64, 4, generator=g)
    y = X @ torch.tensor([[3.0], [-2.0], [1.0], [4.0]]) + 5.0
    torch.manual_seed(4)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = student.TrainingMonitor()
    losses = []
    for step in range(steps):
        inputs = X.clone()
        if nan_at is not None and step >= nan_at:
            inputs[0, 0] = float("nan")
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs), y)
        loss.backward()
        monitor.log(step, loss.item(), model, optimizer)
        optimizer.step()
        losses.append(loss.item())
    codes = monitor.diagnose()
    return {"codes": list(codes) if isinstance(codes, (list, tuple)) else codes,
            "losses": losses}
