"""How far a worker is cut off from everything but its scratch folder, and the limits it runs under.

Two levels, decided before grading and recorded with every result:

- ``namespaces`` (Linux, run as root): the worker gets its own mount and network namespaces
  (no network at all), the course's files, the gradebook, the submissions and the system's
  temporary folders are covered by empty or private file systems, and it runs under a user id
  of its own (so it can neither read nor signal anything else, and the process limit counts
  only its own processes) with ``no_new_privs`` set.
- ``limits``: process limits only (CPU time, memory, processes, file size, open files), a
  scrubbed environment and truncated output. Files the user can read stay readable.

Every worker, at either level, runs in its own process group with a wall-clock timeout.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loopgrader.sandbox import namespaces as ns

__all__ = [
    "ENV_PASSTHROUGH",
    "LEVELS",
    "Limits",
    "SandboxError",
    "SandboxSpec",
    "detect_isolation",
    "enter_sandbox",
    "hidden_paths",
    "kill_uid",
    "set_call_cpu_budget",
    "sweep_descendants",
    "worker_environment",
]

LEVELS = ("namespaces", "limits")
UID_BASE = 1_800_000_000  # worker uid = UID_BASE + its pid: unique among live processes
ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "LD_LIBRARY_PATH",
                   "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "VIRTUAL_ENV")
ENV_PREFIXES = ("LOOPGRADER_", "PYTORCH_", "NVIDIA_")
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


class SandboxError(RuntimeError):
    """The worker could not be isolated as asked; it must not run student code."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker (0: no limit). ``cpu_seconds`` is a lifetime cap."""

    cpu_seconds: int = 0
    memory_bytes: int = 0
    processes: int = 64
    file_bytes: int = 64 << 20
    output_bytes: int = 1 << 20
    open_files: int = 1024

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Limits:
        return cls(**{k: int(str(v)) for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SandboxSpec:
    """What the worker needs to isolate itself: plain paths and numbers only."""

    level: str = "limits"
    limits: Limits = field(default_factory=Limits)
    hidden: tuple[str, ...] = ()  # covered with empty read-only file systems ("namespaces")


def worker_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The variables a worker may see: locale, paths to find Python and torch, LOOPGRADER_*."""
    source = dict(os.environ if base is None else base)
    env = {k: v for k, v in source.items()
           if k in ENV_PASSTHROUGH or k.startswith(ENV_PREFIXES)}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONSAFEPATH="1", PYTHONNOUSERSITE="1")
    return env


def detect_isolation(requested: str = "auto") -> str:
    """The level to use: ``auto`` picks the best this machine allows (tried in a child)."""
    if requested not in ("auto", *LEVELS):
        raise ValueError(f"isolation must be auto or one of {LEVELS}, got {requested!r}")
    if requested == "limits":
        return "limits"
    works = _namespaces_work()
    if requested == "namespaces" and not works:
        raise SandboxError("namespace isolation is not available here (it needs Linux and root)")
    return "namespaces" if works else "limits"


def _namespaces_work() -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    probe = "import loopgrader.sandbox.namespaces as n; n.self_test()"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60,
                              check=False, env=worker_environment())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def hidden_paths(candidates: Iterable[Path], keep: Iterable[Path] = ()) -> tuple[str, ...]:
    """Paths to cover in the worker: ``candidates``, minus anything a worker needs to run.

    A candidate that holds something needed (Python, installed packages, the scratch root) is
    replaced by its children that do not, recursively.
    """
    roots: list[str | Path] = [*sys.path, sys.prefix, sys.base_prefix, tempfile.gettempdir(),
                               *keep]
    needed = [Path(p).resolve() for p in roots if p]
    found: list[str] = []
    for candidate in candidates:
        found += _cover(candidate.resolve(), needed, depth=0)
    return tuple(dict.fromkeys(found))


def _cover(path: Path, needed: list[Path], depth: int) -> list[str]:
    if not path.exists() or path == Path("/"):
        return []
    if not any(path == n or path in n.parents for n in needed):
        return [str(path)]
    if path in needed or depth >= 4 or not path.is_dir():
        return []
    return [p for child in sorted(path.iterdir()) for p in _cover(child, needed, depth + 1)]


def enter_sandbox(spec: SandboxSpec, scratch: Path, keep_fds: Iterable[int] = ()) -> int | None:
    """Isolate the calling (freshly forked, single-threaded) worker; returns its uid if changed.

    Closes every file descriptor but 0, 1, 2 and ``keep_fds`` (pipes to multiprocessing's
    helper processes are not for student code). Raises :class:`SandboxError` when the requested
    level cannot be reached.
    """
    uid = None
    if spec.level == "namespaces":
        uid = UID_BASE + os.getpid()
        try:
            ns.isolate_filesystem(scratch, spec.hidden, PRIVATE_DIRS, _python_paths())
            os.chown(scratch, uid, uid)
            os.chmod(scratch, 0o700)
        except OSError as exc:
            raise SandboxError(f"could not isolate the worker: {exc}") from exc
    _close_fds_except(sorted({0, 1, 2, *keep_fds}))
    _set_limits(spec.limits, uid)
    if uid is not None:
        try:
            ns.drop_privileges(uid)
        except OSError as exc:
            raise SandboxError(f"could not switch to a user of its own: {exc}") from exc
    return uid


def _python_paths() -> list[str]:
    """What this interpreter reads to import modules later (student code may import any)."""
    return [p for p in (*sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix,
                        os.path.dirname(sys.executable)) if p and os.path.isabs(p)]


def _close_fds_except(keep: list[int]) -> None:
    with contextlib.suppress(ImportError, AttributeError):
        from multiprocessing import forkserver, resource_tracker

        tracker: Any = resource_tracker._resource_tracker
        server: Any = forkserver._forkserver
        tracker._fd = None  # closed below with every other inherited descriptor
        server._forkserver_alive_fd = None
    bounds = [*keep[1:], resource.getrlimit(resource.RLIMIT_NOFILE)[0]]
    for low, high in zip(keep, bounds, strict=True):
        if high > low + 1:
            os.closerange(low + 1, min(high, 1 << 20))


def _set_limits(limits: Limits, uid: int | None) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, nothing dies
    wanted = {resource.RLIMIT_CORE: 0, resource.RLIMIT_AS: limits.memory_bytes,
              resource.RLIMIT_FSIZE: limits.file_bytes,
              resource.RLIMIT_NOFILE: limits.open_files}
    if limits.cpu_seconds:
        wanted[resource.RLIMIT_CPU] = limits.cpu_seconds
    if limits.processes and (uid is not None or os.geteuid() != 0):  # root ignores it
        # With a uid of its own the worker counts only its processes; otherwise the limit has to
        # leave room for everything the user already runs.
        extra = 0 if uid is not None else _processes_of(os.getuid())
        wanted[resource.RLIMIT_NPROC] = limits.processes + extra
    for which, value in wanted.items():
        if value:
            _lower_limit(which, value)


def _lower_limit(which: int, value: int) -> None:
    hard = resource.getrlimit(which)[1]
    new = value if hard == resource.RLIM_INFINITY else min(value, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (new, new))


def set_call_cpu_budget(seconds: float) -> None:
    """Let the next call use ``seconds`` more CPU time (SIGXCPU after), within the lifetime cap."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard == resource.RLIM_INFINITY:
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (min(hard, int(spent + seconds) + 1), hard))


def _processes_of(uid: int) -> int:
    count = 0
    for status in _proc_status():
        if status.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(status.get("Threads", "1"))
    return count


def _proc_status() -> Iterable[dict[str, str]]:
    """Every live process's /proc status fields (zombies left out: they are already dead)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    text = Path(entry.path, "status").read_text(encoding="ascii", errors="replace")
                    fields = dict(line.split(":\t", 1) for line in text.splitlines()
                                  if ":\t" in line)
                    if not fields.get("State", "").startswith("Z"):
                        yield fields


def kill_uid(uid: int) -> int:
    """SIGKILL every process running as ``uid`` (a worker's own uid); returns how many."""
    killed = 0
    for _ in range(5):
        pids = [int(s["Pid"]) for s in _proc_status()
                if s.get("Uid", "").split()[:1] == [str(uid)] and "Pid" in s]
        if not pids:
            break
        killed += _kill(pids)
    return killed


def sweep_descendants(root: int, keep: Iterable[int] = ()) -> int:
    """SIGKILL every descendant of ``root`` except ``keep`` (not their descendants either)."""
    spared = set(keep)
    killed = 0
    for _ in range(5):
        children: dict[int, list[int]] = {}
        for status in _proc_status():
            with contextlib.suppress(KeyError, ValueError):
                children.setdefault(int(status["PPid"]), []).append(int(status["Pid"]))
        doomed: list[int] = []
        todo = [root]
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in spared:
                    doomed.append(child)
                    todo.append(child)
        if not doomed:
            break
        killed += _kill(doomed)
        _reap(doomed)
    return killed


def _kill(pids: Iterable[int]) -> int:
    """SIGKILL each of ``pids`` that still exists and may be signalled; how many were."""
    killed = 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def _reap(pids: Iterable[int]) -> None:
    """Collect the killed processes that are our own children (others are not ours to reap)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
