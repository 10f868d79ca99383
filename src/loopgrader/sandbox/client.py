"""The grader's handle on a student's module: every call crosses into a sandboxed worker.

Workers are forked from a server that imported torch once (multiprocessing's ``forkserver``),
so starting or restarting one costs milliseconds. A call sends plain data, waits with a
timeout, and reads plain data back with ``weights_only`` loading; an exception, ``sys.exit``,
a crash or a hang in student code becomes a :class:`GradingFailure` with a student-facing
message, and the next call gets a fresh worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import torch

from loopgrader.checks.failures import (
    GradingFailure,
    StudentCrash,
    StudentError,
    StudentImportError,
    StudentTimeout,
)
from loopgrader.checks.integrity import integrity_failure
from loopgrader.sandbox import wire as _wire
from loopgrader.sandbox.isolation import UID_BASE, SandboxSpec, kill_uid
from loopgrader.sandbox.messages import ErrorInfo, Frame, Reply, Request
from loopgrader.sandbox.worker import WorkerSpec, worker_main

__all__ = ["ModuleSnapshot", "StudentProcess", "describe_call"]

MAX_REPLY_BYTES = 1 << 30
CPU_SLACK_S = 5.0  # CPU time a call may use beyond its wall-clock timeout (SIGXCPU after)
SIGNALS = {
    "SIGXCPU": "was stopped for using more CPU time than allowed",
    "SIGKILL": "was killed (it may have run out of memory, or been stopped from outside)",
    "SIGSEGV": "crashed in native code (segmentation fault)",
}


@dataclass(frozen=True)
class ModuleSnapshot:
    """What crosses back when student code returns an ``nn.Module``: its state, not the object."""

    type_name: str
    state: dict[str, torch.Tensor]
    training: bool


@dataclass
class StudentProcess:
    """A student's module living in a worker process; restarted after a crash or timeout."""

    ctx: ForkServerContext
    student_file: Path
    probe_files: tuple[Path, ...] = ()
    sandbox: SandboxSpec = field(default_factory=SandboxSpec)  # its limits: sandbox.limits
    timeout: float = field(init=False)  # wall seconds of one call (a timed probe sets its own)
    _spent: float = field(default=0.0, init=False, repr=False)
    _proc: Any = field(default=None, init=False, repr=False)
    _conn: Connection | None = field(default=None, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.timeout = self.sandbox.limits.call_seconds

    @property
    def budget(self) -> float:
        """Wall seconds all calls together may take (0: no limit)."""
        return self.sandbox.limits.lesson_seconds

    @property
    def display_name(self) -> str:
        return self.student_file.name

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``name`` in the student's module with plain-data arguments."""
        return self._request("call", name, args, kwargs)

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the grader's worker-side helper ``name(student_module, *args, **kwargs)``."""
        return self._request("probe", name, args, kwargs)

    def timed_probe(self, timeout: float, name: str, *args: Any,
                    **kwargs: Any) -> tuple[Any, float]:
        """Run probe ``name`` with its own timeout; returns (value, wall seconds seen here)."""
        saved, self.timeout = self.timeout, timeout
        try:
            self._ensure_started()
            started = time.perf_counter()
            value = self._request("probe", name, args, kwargs)
            return value, time.perf_counter() - started
        finally:
            self.timeout = saved

    def import_error(self) -> str | None:
        """The student-facing message if the file does not import, else None."""
        reply = self._roundtrip(Request("status", 0), "importing your file")
        return None if reply.error is None else self._import_message(reply.error)

    def close(self) -> None:
        self._kill(thorough=False)  # at the end of a run: the grader host sweeps what is left

    def _request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        what = describe_call(name, args, kwargs)
        reply = self._roundtrip(Request(op, 0, name, args, kwargs), what)
        if reply.integrity:
            raise integrity_failure(what, list(reply.integrity))
        if reply.ok:
            return _from_wire(reply.value)
        raise self._failure(reply, name, what)

    def _ensure_started(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            self._start()
            self._roundtrip(Request("status", 0), "importing your file")

    def _roundtrip(self, request: Request, what: str) -> Reply:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        self._check_budget(what)
        self._counter += 1
        request = replace(request, id=self._counter, cpu_seconds=self.timeout + CPU_SLACK_S)
        started = time.perf_counter()
        try:
            self._conn.send_bytes(_wire.encode(request.to_wire()))
            if not self._conn.poll(self.timeout):
                self._kill()
                raise StudentTimeout(
                    f"{what} did not finish within {self.timeout:g} s, so it was stopped",
                    hint="look for a loop that never ends, or work repeated far more than needed")
            raw = self._conn.recv_bytes(MAX_REPLY_BYTES)
        except (EOFError, OSError, BrokenPipeError):
            raise self._crashed(what) from None
        finally:
            self._spent += time.perf_counter() - started
        return self._check_reply(raw, request.id, what)

    def _check_budget(self, what: str) -> None:
        if self.budget and self._spent > self.budget:
            raise StudentTimeout(
                f"{what} was not run: your code already used the {self.budget:g} s this lesson "
                "allows in total", hint="look for work repeated far more than needed")

    def _check_reply(self, raw: bytes, expected_id: int, what: str) -> Reply:
        """The reply to request ``expected_id``; anything else (bytes that are not plain data, a
        message that is not exactly a reply, another id) ends the worker: student code wrote
        to the pipe."""
        try:
            reply: Reply | None = Reply.from_wire(_wire.decode(raw))
        except Exception:  # not plain data (UnpicklingError and more), or a ProtocolError
            reply = None
        if reply is None or reply.id != expected_id:
            self._kill()
            raise StudentCrash(f"while running {what}, the process running your code sent back "
                               "something that is not a result (did your code write to it?)")
        return reply

    def _start(self) -> None:
        self._kill()
        self._scratch = Path(tempfile.mkdtemp(prefix="loopgrader-worker-"))
        own_copy = self._scratch / self.student_file.name  # the worker sees only this copy
        with contextlib.suppress(OSError):
            shutil.copyfile(self.student_file, own_copy)
        spec = WorkerSpec(
            student_file=str(own_copy),
            module_name=f"loopgrader_submission_{uuid.uuid4().hex}",
            scratch_dir=str(self._scratch),
            probe_files=tuple(str(p) for p in self.probe_files),
            sandbox=self.sandbox,
            import_seconds=self.timeout + CPU_SLACK_S,
        )
        parent, child = self.ctx.Pipe(duplex=True)
        self._proc = self.ctx.Process(target=worker_main, args=(child, spec), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def _kill(self, thorough: bool = True) -> None:
        if self._proc is not None:
            if self._proc.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                if thorough and self.sandbox.level == "namespaces":  # outside its group too
                    kill_uid(UID_BASE + self._proc.pid)
            self._proc.join(5)
            self._proc = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _output_tail(self) -> str:
        if self._scratch is None:
            return ""
        with contextlib.suppress(OSError):
            text = (self._scratch / "output.log").read_text(encoding="utf-8", errors="replace")
            return text.strip()[-800:]
        return ""

    def _crashed(self, what: str) -> StudentCrash:
        code = None
        if self._proc is not None:
            self._proc.join(2)
            code = self._proc.exitcode
        output = self._output_tail()
        self._kill()
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            how = SIGNALS.get(name, f"was killed by signal {name}")
        else:
            how = f"exited with code {code}"
        msg = f"while running {what}, the process running your code {how}"
        if output:
            msg += f"\nlast output:\n{output}"
        return StudentCrash(msg, hint="os._exit, a crash in native code, or running out of memory "
                                      "end the process; return a value instead")

    def _failure(self, reply: Reply, name: str, what: str) -> GradingFailure:
        if reply.kind == "import" and reply.error is not None:
            return StudentImportError(self._import_message(reply.error))
        if reply.kind == "missing":
            return StudentError(f"{self.display_name} has no function or class named {name!r}",
                                hint="keep the names and signatures the exercise gives")
        if reply.kind == "exception" and reply.error is not None:
            return self._exception_failure(reply.error, what)
        if reply.kind == "unsendable":
            return StudentError(f"{what} returned a value that cannot be checked: "
                                f"{reply.message}")
        return GradingFailure(f"the grader's helper failed while running {what}: "
                              f"{reply.message}")

    def _exception_failure(self, error: ErrorInfo, what: str) -> StudentError:
        if error.type == "SystemExit":
            return StudentError(f"{what} called sys.exit({error.exit_code})",
                                type_names=error.mro, hint="return a value instead of exiting")
        where = self._student_frames(error.frames)
        text = f"{what} raised {error.type}: {error.message}"
        if where:
            text += "\n" + where
        return StudentError(text, type_names=error.mro)

    def _student_frames(self, frames: tuple[Frame, ...]) -> str:
        mine = [f for f in frames if Path(f.file).name == self.display_name]
        return "\n".join(f"  {self.display_name}, line {f.line}, in {f.function}: {f.code}"
                         for f in mine[-4:])

    def _import_message(self, error: ErrorInfo) -> str:
        if error.type == "SandboxError":
            return error.message
        line = next((f.line for f in reversed(error.frames)
                     if Path(f.file).name == self.display_name), None)
        where = f"{self.student_file}" + (f", line {line}" if line else "")
        return f"{where}: your file does not import: {error.type}: {error.message}"


def _from_wire(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_wire(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_from_wire(v) for v in value)
    if isinstance(value, dict):
        mark = value.get(_wire.MARK)
        if mark == "module":
            return ModuleSnapshot(str(value.get("type")), dict(value.get("state", {})),
                                  bool(value.get("training")))
        if mark in ("dtype", "device"):
            return str(value.get("value"))
        return {k: _from_wire(v) for k, v in value.items()}
    return value


def describe_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``predict(Tensor[20, 3], Tensor[3], lr=0.1)``: a call as a student would recognise it."""
    parts = [_describe_arg(a) for a in args]
    parts += [f"{k}={_describe_arg(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _describe_arg(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        parts = [str(s) for s in value.shape]
        if value.dtype != torch.float32:
            parts.append(str(value.dtype).replace("torch.", ""))
        return f"Tensor[{', '.join(parts)}]"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
