"""The untrusted side: the process where a student's module is imported and called.

It is forked from a server that has already imported torch, puts itself in its own process
group (so a timeout can kill everything it started), loads the student's file by path under a
unique module name, and then answers requests one at a time with plain data (see ``_wire``).
Nothing here judges anything: every verdict is made in the grader process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import tokenize
import traceback
import types
import warnings
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import torch

from loopgrader.probes.guards import take_violations
from loopgrader.sandbox import jail as _jail
from loopgrader.sandbox import wire as _wire
from loopgrader.sandbox.isolation import (
    SandboxError,
    SandboxSpec,
    enter_sandbox,
    set_call_cpu_budget,
    worker_environment,
)
from loopgrader.sandbox.messages import ErrorInfo, Frame, Reply, Request

__all__ = ["WorkerSpec", "worker_main"]

MAX_MESSAGE = 2000
_jail.support()  # answered once in the worker server (a probe process when not root)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker loads; plain paths and names only."""

    student_file: str  # a copy inside scratch_dir
    module_name: str
    scratch_dir: str
    probe_files: tuple[str, ...] = ()
    threads: int = 1
    sandbox: SandboxSpec = field(default_factory=SandboxSpec)
    import_seconds: float = 0.0  # CPU time importing the student's file may use (0: no limit)


def worker_main(conn: Connection, spec: WorkerSpec) -> None:
    """Entry point of a forked worker; never returns normally."""
    os.setsid()
    _redirect_output(spec)
    # Probes are the grader's code: loaded before the sandbox hides the graders' folder.
    probes = [_load(p, f"{spec.module_name}_probes{i}") for i, p in enumerate(spec.probe_files)]
    refusal = _enter_sandbox(spec, conn.fileno())
    _isolate(spec)
    if spec.import_seconds:
        set_call_cpu_budget(spec.import_seconds)
    loaded = _Loaded(None, refusal) if refusal else _load(spec.student_file, spec.module_name)
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            os._exit(0)
        request = Request.from_wire(_wire.decode(raw))  # from the grader: trusted
        if request.cpu_seconds:
            set_call_cpu_budget(float(request.cpu_seconds))
        reply = _answer(request, loaded, probes)
        # guards undone during this call: plain sentences, sent whatever the outcome
        reply = replace(reply, integrity=tuple(str(v) for v in take_violations()))
        try:
            data = _wire.encode(reply.to_wire())
        except Exception as exc:  # e.g. a value torch cannot save
            data = _wire.encode(Reply(
                request.id, False, "unsendable", integrity=reply.integrity,
                message=f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]).to_wire())
        conn.send_bytes(data)


def _redirect_output(spec: WorkerSpec) -> None:
    log = os.open(os.path.join(spec.scratch_dir, "output.log"),
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    limit = spec.sandbox.limits.output_bytes
    sys.stdout = _CappedStream(1, limit)
    sys.stderr = _CappedStream(2, limit)


def _enter_sandbox(spec: WorkerSpec, conn_fd: int) -> ErrorInfo | None:
    """None when isolated as asked, else the error every request will get."""
    try:
        enter_sandbox(spec.sandbox, Path(spec.scratch_dir), keep_fds=(conn_fd,))
    except SandboxError as exc:
        return ErrorInfo("SandboxError", mro=("SandboxError",), message="the grader could not "
                         f"isolate your code, so it was not run: {exc}")
    return None


def _isolate(spec: WorkerSpec) -> None:
    os.chdir(spec.scratch_dir)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    env = worker_environment()
    env.update(HOME=spec.scratch_dir, TMPDIR=spec.scratch_dir, MPLCONFIGDIR=spec.scratch_dir,
               XDG_CACHE_HOME=spec.scratch_dir)
    os.environ.clear()
    os.environ.update(env)
    warnings.resetwarnings()
    warnings.simplefilter("default")
    torch.set_num_threads(max(1, spec.threads))
    memory = spec.sandbox.limits.memory_bytes
    if memory:
        import resource

        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


class _CappedStream(io.TextIOBase):
    """sys.stdout/stderr of the worker: keeps the first ``limit`` bytes, drops the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self._fd, self._left, self._told = fd, limit or (1 << 62), False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        data = str(text).encode("utf-8", errors="replace")
        if len(data) > self._left:
            data = data[:self._left]
            if not self._told:
                data += b"\n[output truncated]\n"
                self._told = True
        self._left -= min(self._left, len(data))
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(self._fd, data):]
        return len(text)


@dataclass
class _Loaded:
    module: types.ModuleType | None
    error: ErrorInfo | None


def _check_encoding(path: str) -> None:
    """Refuse a source file that ``python file.py`` refuses (PEP 263): bytes that are not valid
    in its declared encoding (UTF-8 when it declares none). Importing from bytes is laxer (a
    stray byte in a comment slips through), so the file is decoded here first, as the
    interpreter does, and the line of the first bad byte is named."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        start = exc.start if isinstance(exc, UnicodeDecodeError) else 0
        line = data[:start].count(b"\n") + 1
        text = data.split(b"\n")[line - 1].decode("utf-8", errors="replace")
        byte = f"'\\x{data[start]:02x}'" if start < len(data) else "?"
        raise SyntaxError(f"Non-UTF-8 code starting with {byte} in file {path} on line "
                          f"{line}, but no encoding declared; see "
                          "https://peps.python.org/pep-0263/ for details"
                          if encoding == "utf-8" else f"the file is not valid {encoding} "
                          f"(its declared encoding) on line {line}",
                          (path, line, 1, text)) from None


def _load(path: str, name: str) -> _Loaded:
    try:
        _check_encoding(path)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # the file may raise anything, SystemExit included
        return _Loaded(None, _describe(exc))
    return _Loaded(module, None)


def _answer(request: Request, student: _Loaded, probes: list[_Loaded]) -> Reply:
    if request.op == "status":
        return Reply(request.id, student.error is None, error=student.error)
    if student.module is None:
        return Reply(request.id, False, "import", error=student.error)
    target = _target(request, student.module, probes)
    if isinstance(target, Reply):
        return target
    args = request.args
    _reset_global_state()
    if request.op == "probe":
        args = (student.module, *args)
    try:
        value = target(*args, **request.kwargs)
        return Reply(request.id, True, value=_wire.to_plain(value))
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
        return Reply(request.id, False, "exception", error=_describe(exc))


def _reset_global_state() -> None:
    """Each call starts as a fresh process would: grad on, float32 default, no stray modes."""
    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)


def _target(request: Request, module: types.ModuleType, probes: list[_Loaded]) -> Any:
    """The function to call, or the reply saying why there is none."""
    name = request.name
    if request.op == "call":
        found = getattr(module, name, None)
        if found is None or not callable(found):
            return Reply(request.id, False, "missing")
        return found
    for probe in probes:
        if probe.module is not None and callable(getattr(probe.module, name, None)):
            return getattr(probe.module, name)
    errors = [f"a probe file does not import: {p.error.type}: {p.error.message}"
              for p in probes if p.error is not None]
    return Reply(request.id, False, "probe",
                 message="; ".join(errors) or f"no probe named {name!r}")


def _describe(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, SyntaxError) and exc.filename:
        where = [Frame(exc.filename, exc.lineno or 0, "<module>", (exc.text or "").strip())]
    else:
        where = [Frame(f.filename, f.lineno or 0, f.name, (f.line or "").strip())
                 for f in traceback.extract_tb(exc.__traceback__)]
    return ErrorInfo(
        type=type(exc).__name__,
        mro=tuple(cls.__name__ for cls in type(exc).__mro__),
        message=_safe_str(exc)[:MAX_MESSAGE],
        frames=tuple(where[-12:]),
        exit_code=exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int)
        else None,
    )


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable message>"
