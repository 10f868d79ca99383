"""Worker-side helpers for lesson 2.5: build models, loaders and optimizers from plain data, run
the student's pipeline on them, and hand back what happened as plain data.

Loaders built here yield ``HostTensor`` batches: ordinary tensors on the cpu that remember they
have not been moved yet. ``batch.to(device)`` (or ``.cuda()``) returns a plain tensor, so a
batch that reaches the model or the loss without passing through ``.to(device)`` is seen even
when the device under test is the cpu itself (where ``.to("cpu")`` moves nothing). On a cuda or
mps machine the model also really lives on that device while the data stays on the cpu.

The model is an ``nn.Sequential`` (Linear -> Tanh -> Linear); the loss is ``RecordingMSE``, an
``nn.MSELoss`` (reduction "mean") that notes every value it returns and the size of its batch.
Every returned value is a claim: the tests replay the run in the grader process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset, default_collate

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop


def _device_given(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if "device" in kwargs:
        return True
    return any(isinstance(a, (torch.device, str, int, Tensor)) for a in args[1:])


class HostTensor(Tensor):
    """A batch still on the host: moving it (``.to(device)``, ``.cuda()``) gives a plain tensor."""

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        result = super().__torch_function__(func, types, args, kwargs)
        moved = func is Tensor.cuda or (func is Tensor.to and _device_given(args, kwargs))
        if moved and isinstance(result, Tensor):
            return result.as_subclass(Tensor)
        return result


def _host_collate(batch: list[Any]) -> Any:
    return tuple(t.as_subclass(HostTensor) for t in default_collate(batch))


class RecordingMSE(nn.MSELoss):
    """``nn.MSELoss()`` that records each loss value, its batch size and unmoved inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        loss = super().forward(input, target)
        self.calls.append({"loss": float(loss.detach()), "size": int(target.shape[0]),
                           "unmoved_target": isinstance(target, HostTensor)})
        return loss


def _model(state: dict[str, Tensor], device: torch.device) -> nn.Sequential:
    d, h = state["0.weight"].shape[1], state["0.weight"].shape[0]
    o = state["2.weight"].shape[0]
    model = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, o)).to(state["0.weight"].dtype)
    model.load_state_dict(state)
    return model.to(device)


def _watch_inputs(model: nn.Module) -> tuple[list[bool], Any]:
    unmoved: list[bool] = []

    def hook(module: nn.Module, args: Any) -> None:
        unmoved.append(bool(args) and isinstance(args[0], HostTensor))

    return unmoved, model.register_forward_pre_hook(hook)


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def dataset_items(student: ModuleType, X: Tensor, y: Tensor, indices: list[int]) -> Any:
    dataset = student.TensorPairDataset(X, y)
    return {"is_dataset": isinstance(dataset, torch.utils.data.Dataset),
            "len": len(dataset), "items": [dataset[i] for i in indices]}


def loader_epochs(student: ModuleType, n: int, batch_size: int, shuffle: bool, seed: int,
                  drop_last: bool, epochs: int, global_seed: int) -> Any:
    """The rows of every batch of ``epochs`` passes over a make_loader loader.

    Row i of the data is (i, -i) with target 10 i, so each batch tells which samples it holds
    and whether inputs and targets stayed together. The global RNG is seeded with
    ``global_seed`` first: a loader's order must not depend on it.
    """
    index = torch.arange(n, dtype=torch.float32)
    dataset = TensorDataset(torch.stack([index, -index], dim=1), 10 * index)
    loader = student.make_loader(dataset, batch_size, shuffle, seed=seed, drop_last=drop_last)
    torch.manual_seed(global_seed)
    passes, aligned = [], True
    for _ in range(epochs):
        rows = []
        for xb, yb in loader:
            rows.append([int(v) for v in xb[:, 0].tolist()])
            aligned = aligned and torch.equal(yb, 10 * xb[:, 0]) and torch.equal(xb[:, 1],
                                                                                 -xb[:, 0])
        passes.append(rows)
    try:
        length: int | None = len(loader)
    except TypeError:
        length = None
    return {"is_dataloader": isinstance(loader, DataLoader), "type": type(loader).__name__,
            "len": length, "epochs": passes, "aligned": aligned}


def train_epoch_run(student: ModuleType, state: dict[str, Tensor], X: Tensor, y: Tensor,
                    batch_size: int, lr: float, momentum: float, device: str) -> Any:
    """One train_epoch on a model left in eval mode, traced; unshuffled loader of HostTensors."""
    dev = torch.device(device)
    model = _model(state, dev)
    model.eval()  # left in eval mode by earlier work: train_epoch must switch it back
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = RecordingMSE()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False,
                        collate_fn=_host_collate)
    unmoved, handle = _watch_inputs(model)
    try:
        with record_loop() as recorder:
            loss = student.train_epoch(model, loader, optimizer, loss_fn, dev)
        synchronize(dev)
    finally:
        handle.remove()
    return {"loss": loss, "log": recorder.log(), "state": _state(model),
            "calls": loss_fn.calls, "unmoved_inputs": unmoved}


def evaluate_run(student: ModuleType, state: dict[str, Tensor], X: Tensor, y: Tensor,
                 batch_size: int, device: str) -> Any:
    """evaluate on a model left in train mode holding gradients, traced."""
    dev = torch.device(device)
    model = _model(state, dev)
    model.train()  # left in train mode by training: evaluate must switch to eval
    for i, p in enumerate(model.parameters()):
        p.grad = torch.full_like(p, 0.25 * (i + 1))
    loss_fn = RecordingMSE()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False,
                        collate_fn=_host_collate)
    unmoved, handle = _watch_inputs(model)
    try:
        with record_loop() as recorder:
            loss = student.evaluate(model, loader, loss_fn, dev)
        synchronize(dev)
    finally:
        handle.remove()
    grads = [None if p.grad is None else p.grad.detach().cpu() for p in model.parameters()]
    return {"loss": loss, "log": recorder.log(), "state": _state(model), "grads": grads,
            "calls": loss_fn.calls, "unmoved_inputs": unmoved}


def epoch_for_timing(student: ModuleType, X: Tensor, y: Tensor, hidden: int, batch_size: int,
                     device: str) -> Any:
    """One epoch of the student's whole pipeline (dataset, loader, train_epoch) on ``device``."""
    dev = torch.device(device)
    dataset = student.TensorPairDataset(X, y)
    loader = student.make_loader(dataset, batch_size, True, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, y.shape[1])).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = student.train_epoch(model, loader, optimizer, nn.MSELoss(), dev)
    synchronize(dev)
    with torch.no_grad():  # the trained model's loss, measured here on the whole data
        measured = float(nn.functional.mse_loss(model(X.to(dev)), y.to(dev)))
    return trained_summary(model, loss, measured)
