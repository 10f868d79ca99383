"""Worker-side helpers for lesson 3.8: checkpoints and resumable training.

Every checkpoint lives in a folder made with ``tempfile.mkdtemp`` inside the worker's scratch
folder (its working directory) and removed afterwards. Loaders are never shuffled.

- ``fit_runs`` trains the same network three ways: 6 epochs straight; 6 epochs interrupted
  after the 3rd (the training loader raises when asked for a 4th pass, after the 3rd epoch's
  checkpoint was written); and a resume from that checkpoint into a freshly built network, with
  the global random state scrambled first. It reports losses, final parameters, the traced
  loops (steps with their learning rates, scheduler steps, forward modes), the random state at
  the start of every epoch and Adam's step counts.
- ``interrupted_save`` makes ``torch.save`` write half its bytes and fail, to see whether the
  previous checkpoint survives.
- ``load_calls`` records the keyword arguments of every ``torch.load`` call.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.data import DataLoader, TensorDataset

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop

LAYERS: dict[str, Callable[..., nn.Module]] = {"relu": nn.ReLU, "dropout": nn.Dropout,
                                               "tanh": nn.Tanh}


def build(spec: list[list[Any]], state: dict[str, Tensor]) -> nn.Sequential:
    model = nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                            else LAYERS[str(item[0])](*item[1:]) for item in spec])
    model.load_state_dict(state)
    return model


def _state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}


def _rng_digest() -> str:
    return hashlib.sha1(torch.get_rng_state().numpy().tobytes()).hexdigest()[:16]


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ckpt-", dir=os.getcwd()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Interrupted(Exception):
    """Raised by the training loader to simulate a crash between two epochs."""


class EpochLoader(DataLoader):  # type: ignore[type-arg]
    """An unshuffled loader that notes the random state at each pass and can stop the run."""

    def __init__(self, X: Tensor, y: Tensor, batch_size: int, stop_after: int | None) -> None:
        super().__init__(TensorDataset(X, y), batch_size=batch_size, shuffle=False)
        self.passes: list[str] = []
        self.stop_after = stop_after

    def __iter__(self) -> Any:
        if self.stop_after is not None and len(self.passes) >= self.stop_after:
            raise Interrupted("the run was interrupted")
        self.passes.append(_rng_digest())
        return super().__iter__()


def _traced_fit(student: ModuleType, model: nn.Module, loader: EpochLoader,
                val_loader: DataLoader, epochs: int, lr: float, path: Path, resume: bool,
                max_grad_norm: float) -> dict[str, Any]:
    optimizers: list[torch.optim.Optimizer] = []
    forwards: list[list[Any]] = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: None if optimizers and optimizers[-1] is opt
        else optimizers.append(opt))
    forward_hook = model.register_forward_pre_hook(lambda module, args: forwards.append(
        [int(args[0].shape[0]) if args and isinstance(args[0], Tensor) else -1,
         bool(module.training), torch.is_grad_enabled()]))
    interrupted = False
    history: Any = None
    try:
        with record_loop() as recorder:
            history = student.fit(model, loader, val_loader, epochs, lr, str(path),
                                  resume=resume, max_grad_norm=max_grad_norm)
    except Interrupted:
        interrupted = True
    finally:
        hook.remove()
        forward_hook.remove()
    adam_steps = []
    if optimizers:
        for value in optimizers[-1].state_dict()["state"].values():
            step = value.get("step") if isinstance(value, dict) else None
            adam_steps.append(float(step) if step is not None else -1.0)
    return {"history": history, "state": _state(model), "log": recorder.log(),
            "passes": list(loader.passes), "interrupted": interrupted,
            "adam_steps": adam_steps, "forwards": forwards}


def fit_runs(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
             other_state: dict[str, Tensor], data: dict[str, Tensor], batch_sizes: list[int],
             epochs: int, stop_after: int, lr: float, max_grad_norm: float) -> dict[str, Any]:
    """Straight run, interrupted run, resumed run (see the module docstring)."""
    def loaders(stop: int | None) -> tuple[EpochLoader, DataLoader]:
        return (EpochLoader(data["X"], data["y"], batch_sizes[0], stop),
                DataLoader(TensorDataset(data["Xv"], data["yv"]), batch_size=batch_sizes[1]))

    with _scratch() as folder:
        model = build(spec, state)
        torch.manual_seed(11)  # the dropout masks of the run follow from this seed
        straight = _traced_fit(student, model, *loaders(None), epochs, lr,
                               folder / "straight.pt", False, max_grad_norm)
        model = build(spec, state)
        torch.manual_seed(11)
        first = _traced_fit(student, model, *loaders(stop_after), epochs, lr,
                            folder / "resumable.pt", False, max_grad_norm)
        model = build(spec, other_state)
        torch.manual_seed(12345)  # a different random state: the checkpoint must restore it
        resumed = _traced_fit(student, model, *loaders(None), epochs, lr,
                              folder / "resumable.pt", True, max_grad_norm)
    return {"straight": straight, "first": {"interrupted": first["interrupted"],
                                            "passes": first["passes"]},
            "resumed": resumed}


# --- checkpoint files --------------------------------------------------------------------------

def _training_objects(spec: list[list[Any]], state: dict[str, Tensor],
                      data: dict[str, Tensor], steps: int) -> tuple[nn.Module, Any, Any]:
    """A model, AdamW and its cosine schedule after ``steps`` training steps."""
    model = build(spec, state)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    scheduler = CosineAnnealingLR(optimizer, T_max=10)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(data["X"]), data["y"]).backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def _expected(model: nn.Module, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    return {"model": _state(model), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng_state": torch.get_rng_state()}


def checkpoint_contents(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                        data: dict[str, Tensor]) -> dict[str, Any]:
    """save_checkpoint, then the file as torch.load(weights_only=True) reads it."""
    torch.manual_seed(21)
    model, optimizer, scheduler = _training_objects(spec, state, data, 2)
    with _scratch() as folder:
        path = folder / "checkpoint.pt"
        expected = _expected(model, optimizer, scheduler)
        student.save_checkpoint(str(path), model, optimizer, scheduler, 4, [0.5, 0.25])
        try:
            loaded = torch.load(path, weights_only=True)
            error = None
        except Exception as exc:
            loaded, error = None, f"{type(exc).__name__}: {str(exc)[:300]}"
        files = sorted(p.name for p in folder.iterdir())
    return {"loaded": loaded if isinstance(loaded, dict) else None, "error": error,
            "loaded_type": type(loaded).__name__, "expected": expected, "files": files}


def _write_checkpoint(path: Path, model: nn.Module, optimizer: Any, scheduler: Any,
                      epoch: int, history: list[float]) -> None:
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch, "history": history,
                "rng_state": torch.get_rng_state()}, path)


def restored(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
             other_state: dict[str, Tensor], data: dict[str, Tensor]) -> dict[str, Any]:
    """A checkpoint written here, loaded by load_checkpoint into fresh objects."""
    torch.manual_seed(31)
    model, optimizer, scheduler = _training_objects(spec, state, data, 3)
    with _scratch() as folder:
        path = folder / "checkpoint.pt"
        expected = _expected(model, optimizer, scheduler)
        _write_checkpoint(path, model, optimizer, scheduler, 7, [0.75, 0.5, 0.25])
        fresh, fresh_optimizer, fresh_scheduler = _training_objects(spec, other_state, data, 0)
        torch.manual_seed(999)
        returned = student.load_checkpoint(str(path), fresh, fresh_optimizer, fresh_scheduler)
        got = _expected(fresh, fresh_optimizer, fresh_scheduler)
    return {"expected": expected, "got": got, "returned": returned}


def load_calls(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
               data: dict[str, Tensor]) -> list[dict[str, Any]]:
    """The keyword arguments of every torch.load call made by load_checkpoint."""
    model, optimizer, scheduler = _training_objects(spec, state, data, 1)
    calls: list[dict[str, Any]] = []
    real_load = torch.load

    def recording_load(*args: Any, **kwargs: Any) -> Any:
        calls.append({k: v for k, v in kwargs.items() if isinstance(v, (bool, str, type(None)))})
        return real_load(*args, **kwargs)

    with _scratch() as folder:
        path = folder / "checkpoint.pt"
        _write_checkpoint(path, model, optimizer, scheduler, 0, [1.0])
        with _patched(student, real_load, recording_load, ("torch", "torch.serialization")):
            student.load_checkpoint(str(path), model, optimizer, scheduler)
    return calls


@contextlib.contextmanager
def _patched(student: ModuleType, real: Any, replacement: Any,
             modules: tuple[str, ...]) -> Iterator[None]:
    """Replace ``real`` by ``replacement`` in torch's modules and in the student's globals."""
    import importlib

    owners: list[Any] = [importlib.import_module(name) for name in modules] + [student]
    saved = [(owner, name) for owner in owners for name, value in list(vars(owner).items())
             if value is real]
    try:
        for owner, name in saved:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name in saved:
            setattr(owner, name, real)


def interrupted_save(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                     data: dict[str, Tensor]) -> dict[str, Any]:
    """A good checkpoint (epoch 1), then a save whose torch.save dies halfway through."""
    model, optimizer, scheduler = _training_objects(spec, state, data, 1)
    real_save = torch.save

    def failing_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as handle:
                handle.write(half)
        else:
            f.write(half)
        raise OSError("simulated failure: the disk filled up halfway through torch.save")

    with _scratch() as folder:
        path = folder / "checkpoint.pt"
        student.save_checkpoint(str(path), model, optimizer, scheduler, 1, [1.0, 0.5])
        raised = None
        with _patched(student, real_save, failing_save, ("torch", "torch.serialization")):
            try:
                student.save_checkpoint(str(path), model, optimizer, scheduler, 2,
                                        [1.0, 0.5, 0.25])
            except NotImplementedError:
                raise
            except Exception as exc:
                raised = f"{type(exc).__name__}: {exc}"[:200]
        try:
            epoch: Any = torch.load(path, weights_only=True)["epoch"]
            error = None
        except Exception as exc:
            epoch, error = None, f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"epoch": epoch if isinstance(epoch, int) else None, "error": error,
            "raised": raised}


def fit_for_timing(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                   data: dict[str, Tensor], batch_sizes: list[int], epochs: int,
                   device: str) -> dict[str, Any]:
    target = torch.device(device)
    model = build(spec, state).to(target)
    train_loader = DataLoader(TensorDataset(data["X"].to(target), data["y"].to(target)),
                              batch_size=batch_sizes[0])
    val_loader = DataLoader(TensorDataset(data["Xv"].to(target), data["yv"].to(target)),
                            batch_size=batch_sizes[1])
    torch.manual_seed(0)  # dropout: the same masks in the student's and the reference's run
    with _scratch() as folder:
        history = student.fit(model, train_loader, val_loader, epochs, 1e-3,
                              str(folder / "timing.pt"))
    synchronize(target)
    return trained_summary(model, history)
