"""The grader host: a warm, trusted process that forks one pytest grader run per task.

Starting Python and importing torch costs about 1.5 s. A host pays it once: it starts the worker
server (which imports torch for the workers), imports pytest, torch and the plugins itself, and
then, for each task, forks a child that runs ``pytest.main`` with the task's arguments. The child
starts with everything imported, grades, writes its report and exits, so no state survives
from one submission to the next. The host never imports graders, references or student code.

The host is a child subreaper: whatever a grader run or a worker leaves behind (even processes
that left their process group) ends up as the host's descendant and is killed after each task.

What decides a score never sits where a worker could reach it: the run plan and the report
live in memory files (``memfd``) of the grader run, passed to pytest as ``/proc/self/fd/N``
(arguments ``{plan}`` and ``{report}`` are replaced), and the host and its grader runs are not
dumpable, so not even a process of the same user may open their files through ``/proc`` or
trace them. The report comes back to the caller over the protocol pipe.

Protocol (JSON lines): the host writes ``{"ready": pid}``; then for each task read from stdin
(``{"args": [...], "cwd": ..., "log": ..., "plan": text}``) it writes ``{"started": pid}`` and,
when that run has ended, ``{"exit": code, "report": the JSON report or null}``. End of input:
the host kills its descendants and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from loopgrader.errors import LoopgraderError
from loopgrader.sandbox import memfile

__all__ = ["GraderHost", "HostStopped", "TaskOutcome", "main"]

START_TIMEOUT_S = 300.0
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


class HostStopped(LoopgraderError):
    """The grader host ended while it was needed (our problem, not the submission's)."""


@dataclass(frozen=True)
class TaskOutcome:
    """How one grader run ended: its exit code (None if it was stopped) and its duration."""

    exit_code: int | None
    timed_out: bool
    duration_s: float
    report: dict[str, Any] | None = None


class GraderHost:
    """The grading side's handle on one host process (use as a context manager)."""

    def __init__(self, env: dict[str, str], *, optimizers: bool = True,
                 cpus: tuple[int, ...] = ()) -> None:
        self._env = env
        self._optimizers = optimizers
        self._cpus = cpus
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._dir: Path | None = None  # the host's log folder, made when it starts
        self._last_started = 0
        self._busy = False  # a task was sent and its end not yet seen
        self.pid: int | None = None

    def __enter__(self) -> GraderHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the host process and wait until it has imported everything."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="loopgrader-host-"))
        with open(self._dir / "host.log", "ab") as log:
            command = [sys.executable, "-m", "loopgrader.sandbox.host"]
            if self._optimizers:
                command.append("--optimizers")
            if self._cpus:
                command += ["--cpus", ",".join(map(str, self._cpus))]
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, cwd=self._dir, env=self._env,
                start_new_session=True)
        self._buffer = b""
        ready = self._read(START_TIMEOUT_S)
        if ready is None or "ready" not in ready:
            tail = self.log_tail()
            self.close()
            raise HostStopped(f"the grader host did not start:\n{tail}")
        self.pid = int(ready["ready"])

    def run(self, args: list[str], cwd: Path, log: Path, budget: float,
            plan: str = "") -> TaskOutcome:
        """Run ``pytest.main(args)`` in a fresh fork; stop it after ``budget`` seconds.
        ``{plan}`` and ``{report}`` in ``args`` become files only that run can reach."""
        if not self.alive:
            self.start()
        started = time.perf_counter()
        self._busy = True
        self._send({"args": args, "cwd": str(cwd), "log": str(log), "plan": plan})
        reply = self._read(60.0)
        if reply is None or "started" not in reply:
            raise HostStopped(f"the grader host stopped:\n{self.log_tail()}")
        reply = self._read(budget)
        timed_out = reply is None and self.alive
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._last_started, signal.SIGKILL)
            reply = self._read(60.0)
        self._last_started = 0  # reaped: the pid may be reused from now on
        if reply is None or "exit" not in reply:
            raise HostStopped(f"the grader host stopped:\n{self.log_tail()}")
        self._busy = False
        code = reply["exit"]
        report = reply.get("report")
        return TaskOutcome(None if timed_out else int(code), timed_out,
                           time.perf_counter() - started,
                           report if isinstance(report, dict) else None)

    def abort(self) -> None:
        """Stop at once (from any thread): the grader run under way and the host are killed."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self._last_started:
                os.kill(self._last_started, signal.SIGKILL)
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()

    def close(self) -> None:
        """Ask the host to finish (it kills its descendants); kill it if it does not."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._stop(proc)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        if not self._busy:
            # After each task the host has killed what the run left behind; what is left (the
            # host, its worker server and resource tracker) shares the host's process group and
            # holds nothing worth a graceful exit.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        try:  # a task was under way: the host sweeps its descendants when it sees the end
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

    def log_tail(self, lines: int = 15) -> str:
        if self._dir is None:
            return ""
        with contextlib.suppress(OSError):
            text = (self._dir / "host.log").read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.strip().splitlines()[-lines:])
        return ""

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self._proc.stdin.flush()
        except (OSError, ValueError):  # ValueError: closed by abort()
            raise HostStopped(f"the grader host stopped:\n{self.log_tail()}") from None

    def _read(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None on timeout or when the host has ended."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        if "started" in message:
            self._last_started = int(message["started"])
        return message


# --- the host process itself ----------------------------------------------------------------


def main() -> None:
    """Entry point of ``python -m loopgrader.sandbox.host``."""
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # only protocol messages may reach the protocol pipe
    _undumpable()
    _pin(sys.argv[1:])
    from loopgrader.sandbox.forkserver import start_worker_server

    optimizers = "--optimizers" in sys.argv[1:]
    start_worker_server(optimizers)
    _warm_up(optimizers)
    _become_subreaper()
    keep = _helpers()
    _send_message(protocol, {"ready": os.getpid()})
    for line in sys.stdin.buffer:
        task = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        report = memfile.create("report", task["cwd"])
        pid = os.fork()
        if pid == 0:
            _run_task(task, protocol, report)
        _send_message(protocol, {"started": pid})
        _, status = os.waitpid(pid, 0)
        _sweep(keep)
        start_worker_server(optimizers)  # a new one if a grader run lost it
        keep = _helpers()
        _send_message(protocol, {"exit": os.waitstatus_to_exitcode(status),
                                 "report": memfile.read_json(report)})
    _sweep(set())
    with contextlib.suppress(ChildProcessError):  # wait for the killed ones: nothing outlives us
        while True:
            os.waitpid(-1, 0)


def _warm_up(optimizers: bool) -> None:
    """Import what every grader run needs, then freeze it: a forked run's garbage collections
    never walk torch's objects again (and the pages stay shared with the host).

    ``optimizers``: also import torch._dynamo (1-2 s), which torch.optim's constructors import
    and which every grader run building an optimizer would otherwise pay again."""
    import gc
    import importlib

    import pytest  # noqa: F401
    import pytest_jsonreport.plugin  # noqa: F401
    import pytest_timeout  # type: ignore[import-untyped]  # noqa: F401
    import torch
    from _pytest.config import default_plugins

    import loopgrader.checks
    import loopgrader.grading.plugin
    import loopgrader.sandbox.client  # noqa: F401

    for name in default_plugins:
        with contextlib.suppress(ImportError):
            importlib.import_module(f"_pytest.{name}")
    if optimizers:
        with contextlib.suppress(Exception):
            import torch._dynamo  # noqa: F401
    gc.collect()
    gc.freeze()


def _pin(argv: list[str]) -> None:
    """``--cpus 0,1``: this host and everything it starts (grader runs, the student's and the
    reference's workers alike) run on those CPUs only: a batch's job slots never share one."""
    if "--cpus" in argv and hasattr(os, "sched_setaffinity"):
        cpus = {int(c) for c in argv[argv.index("--cpus") + 1].split(",") if c}
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(0, cpus)


def _undumpable() -> None:
    """Neither the host nor its grader runs (forks inherit it) may be traced, nor their memory
    or open files reached through /proc, by a process of the same user that is not root."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _helpers() -> set[int]:
    """The worker server and multiprocessing's resource tracker: they live across tasks."""
    from multiprocessing import forkserver, resource_tracker

    server: Any = forkserver._forkserver
    tracker: Any = resource_tracker._resource_tracker
    pids = {server._forkserver_pid, tracker._pid}
    return {pid for pid in pids if pid is not None}


def _sweep(keep: set[int]) -> None:
    """Kill every descendant but ``keep``, and collect orphans that ended up as our children."""
    from loopgrader.sandbox.isolation import sweep_descendants

    sweep_descendants(os.getpid(), keep)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _send_message(protocol: IO[bytes], message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message).encode("utf-8") + b"\n")


def _run_task(task: dict[str, Any], protocol: IO[bytes], report: int | str) -> None:
    """In the forked child: run the grader, then exit without returning."""
    code = 4
    try:
        protocol.close()
        os.chdir(task["cwd"])
        plan = memfile.create("plan", task["cwd"], str(task.get("plan") or ""))
        names = {"{plan}": memfile.path(plan), "{report}": memfile.path(report)}
        args = [names.get(arg, arg) for arg in task["args"]]
        log = os.open(task["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        import pytest

        code = int(pytest.main(args))
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
