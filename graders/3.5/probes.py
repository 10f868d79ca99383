"""Worker-side helpers for lesson 3.5.

- ``device_choice`` fakes which accelerators torch reports (cuda, mps) while get_device runs.
- ``accumulate_run`` traces accumulate_gradients: micro-batch sizes, backward passes, gradients.
- ``ddp_gradients`` runs average_gradients in real data parallelism: two child processes forked
  from this worker join a ``torch.distributed`` gloo group on loopback (127.0.0.1; rendezvous
  through a TCPStore this process serves on a free port), each computes the gradients of its
  shard, calls the student's function and sends its gradients back as bytes of plain tensors.
  The grader compares them with the single-process full-batch gradients.
- ``amp_step`` runs one train_step_amp on the local device with forward hooks that record the
  dtype each layer computed in, an optional recording GradScaler, and loop tracing.

Networks are described by a ``spec`` (``["linear", 6, 8]``, ``["relu"]``...) and loaded with a
state dict made by the grader, so the grader can rebuild the same network on its side.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from loopgrader.probes.devices import synchronize
from loopgrader.probes.summary import trained_summary
from loopgrader.probes.trace import record_loop

LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh}
LOSSES = {"mse": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss}
DDP_TIMEOUT_S = 30.0


def build(spec: list[list[Any]], state: dict[str, Tensor]) -> nn.Sequential:
    model = nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                            else LAYERS[str(item[0])]() for item in spec])
    model = model.to(next(iter(state.values())).dtype)
    model.load_state_dict(state)
    return model


def _grads(model: nn.Module) -> dict[str, Tensor | None]:
    return {name: None if p.grad is None else p.grad.detach().clone()
            for name, p in model.named_parameters()}


# --- get_device --------------------------------------------------------------------------------

@contextlib.contextmanager
def _fake_accelerators(student: ModuleType, cuda: bool, mps: bool) -> Iterator[None]:
    """torch reports exactly these accelerators (through every API a student might ask, and
    through names the student's module imported from torch)."""
    patches: list[tuple[Any, str, Any]] = [
        (torch.cuda, "is_available", lambda: cuda),
        (torch.cuda, "device_count", lambda: int(cuda)),
    ]
    backend = getattr(torch.backends, "mps", None)
    if backend is not None:
        patches += [(backend, "is_available", lambda: mps), (backend, "is_built", lambda: mps)]
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        current = torch.device("cuda") if cuda else torch.device("mps") if mps else None
        patches += [(accelerator, "is_available", lambda: cuda or mps),
                    (accelerator, "current_accelerator", lambda *a, **k: current)]
    originals = {id(getattr(owner, name)): value for owner, name, value in patches}
    patches += [(student, name, originals[id(value)]) for name, value in vars(student).items()
                if callable(value) and id(value) in originals]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def device_choice(student: ModuleType, cuda: bool, mps: bool) -> dict[str, Any]:
    with _fake_accelerators(student, cuda, mps):
        result = student.get_device()
    if isinstance(result, torch.device):
        return {"kind": "device", "type": result.type}
    return {"kind": type(result).__name__, "type": str(result)[:40]}


# --- gradient accumulation ---------------------------------------------------------------------

def accumulate_run(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                   loss_name: str, X: Tensor, y: Tensor, micro_batch_size: int,
                   stale: bool) -> dict[str, Any]:
    """accumulate_gradients, traced; stale gradients planted first when ``stale``."""
    model = build(spec, state)
    if stale:
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.5)
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(
        lambda module, args: sizes.append(int(args[0].shape[0])) if args else None)
    try:
        with record_loop() as recorder:
            returned = student.accumulate_gradients(model, LOSSES[loss_name](), X, y,
                                                    micro_batch_size)
    finally:
        handle.remove()
    return {"grads": _grads(model), "sizes": sizes, "log": recorder.log(),
            "state_after": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "returned": type(returned).__name__}


# --- data parallelism --------------------------------------------------------------------------

def _send(fd: int, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    view = memoryview(buffer.getvalue())
    while view:
        view = view[os.write(fd, view):]


def _rank_main(student: ModuleType, rank: int, port: int, fd: int, spec: list[list[Any]],
               state: dict[str, Tensor], loss_name: str, X: Tensor, y: Tensor) -> None:
    """One data-parallel process: join the group, backward on its shard, average, report."""
    import torch.distributed as dist

    try:
        os.environ["GLOO_SOCKET_IFNAME"] = "lo0" if sys.platform == "darwin" else "lo"
        timeout = timedelta(seconds=DDP_TIMEOUT_S)
        store = dist.TCPStore("127.0.0.1", port, 2, is_master=False, timeout=timeout)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=2, timeout=timeout)
        model = build(spec, state)
        shard = slice(rank * X.shape[0] // 2, (rank + 1) * X.shape[0] // 2)
        LOSSES[loss_name]()(model(X[shard]), y[shard]).backward()
        before = _grads(model)
        try:
            student.average_gradients(model)
        except BaseException as exc:  # the student's function failed: report it
            _send(fd, {"rank": rank, "error": f"{type(exc).__name__}: {exc}"[:500],
                       "mro": [cls.__name__ for cls in type(exc).__mro__]})
            return
        _send(fd, {"rank": rank, "grads": _grads(model), "shard_grads": before})
        dist.destroy_process_group()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            _send(fd, {"rank": rank, "setup_error": f"{type(exc).__name__}: {exc}"[:500]})
    finally:
        os._exit(0)


def _read_all(fd: int, deadline: float) -> bytes | None:
    """Everything written to ``fd`` until the writer closes it, or None past the deadline."""
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def ddp_gradients(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                  loss_name: str, X: Tensor, y: Tensor) -> dict[str, Any]:
    """average_gradients in two real gloo processes; each rank's gradients afterwards."""
    import torch.distributed as dist

    if not dist.is_available():
        return {"unavailable": True}
    store = dist.TCPStore("127.0.0.1", 0, 2, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=DDP_TIMEOUT_S))
    children: list[tuple[int, int]] = []
    for rank in range(2):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _rank_main(student, rank, store.port, write_fd, spec, state, loss_name, X, y)
        os.close(write_fd)
        children.append((pid, read_fd))
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + DDP_TIMEOUT_S + 5
    try:
        for rank, (_, read_fd) in enumerate(children):
            data = _read_all(read_fd, deadline)
            if data is None:
                reports.append({"rank": rank, "timeout": True})
            elif not data:
                reports.append({"rank": rank, "setup_error": "the process ended without a "
                                                             "report"})
            else:
                reports.append(torch.load(io.BytesIO(data), weights_only=True))
    finally:
        for pid, read_fd in children:
            os.close(read_fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        del store
    return {"reports": reports}


# --- mixed precision ---------------------------------------------------------------------------

class RecordingScaler(torch.amp.GradScaler):
    """A GradScaler that notes which of its methods the step called, in order."""

    def __init__(self, device: str) -> None:
        super().__init__(device, init_scale=2.0 ** 8)
        self.calls: list[str] = []

    def scale(self, outputs: Any) -> Any:
        self.calls.append("scale")
        return super().scale(outputs)

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        self.calls.append("unscale_")
        super().unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("step")
        return super().step(optimizer, *args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        self.calls.append("update")
        super().update(new_scale)


def amp_step(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor], x: Tensor,
             y: Tensor, device: str, lr: float, with_scaler: bool) -> dict[str, Any]:
    """One train_step_amp (SGD, cross-entropy) with stale gradients planted beforehand."""
    target = torch.device(device)
    model = build(spec, state).to(target)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.25)
    seen: list[dict[str, Any]] = []

    def note(module: nn.Module, args: Any, output: Any) -> None:
        if isinstance(output, Tensor):
            seen.append({"layer": type(module).__name__, "dtype": str(output.dtype),
                         "autocast": torch.is_autocast_enabled(target.type)})

    handles = [m.register_forward_hook(note) for m in model if isinstance(m, nn.Linear)]
    scaler = RecordingScaler(target.type) if with_scaler else None
    loss: Any = None
    error = None
    try:
        with record_loop() as recorder:
            loss = student.train_step_amp(model, optimizer, nn.CrossEntropyLoss(), x, y, target,
                                          scaler)
        synchronize(target)
    except NotImplementedError:
        raise
    except Exception as exc:
        if scaler is None:
            raise
        # with a scaler, a wrong order of its calls raises inside torch: report the calls
        error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        for handle in handles:
            handle.remove()
    return {"loss": loss if isinstance(loss, (float, int, Tensor)) else None,
            "loss_type": type(loss).__name__, "layers": seen, "log": recorder.log(),
            "state_after": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
            "scaler_calls": scaler.calls if scaler is not None else [], "error": error}


def amp_throughput(student: ModuleType, spec: list[list[Any]], state: dict[str, Tensor],
                   x: Tensor, y: Tensor, device: str, steps: int) -> dict[str, Any]:
    """``steps`` mixed-precision steps on the local device (with a scaler on cuda)."""
    target = torch.device(device)
    model = build(spec, state).to(target)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cuda") if target.type == "cuda" else None
    loss_fn = nn.CrossEntropyLoss()
    x, y = x.to(target), y.to(target)
    loss = None
    for _ in range(steps):
        loss = student.train_step_amp(model, optimizer, loss_fn, x, y, target, scaler)
    synchronize(target)
    return trained_summary(model, loss)
