"""How far a worker is cut off from everything but its scratch folder, and the limits it runs under.

Two levels, decided before grading and recorded with every result (docs/security.md says what
each promises and what was tested):

- ``namespaces`` (Linux, as root or through unprivileged user namespaces): the worker lives in
  its own PID, mount, IPC and network namespaces (loopback only) and sees an allow-list root:
  Python's installation and import path read-only (minus the hidden paths: the course, the
  gradebook, the submissions), a minimal ``/dev``, a private ``/tmp`` holding its scratch folder,
  a ``/proc`` of its own namespace. As root it also runs under a user id of its own.
- ``limits``: process limits (CPU time, memory, processes, file size, open files: see
  ``sandbox.limits``), a scrubbed environment and truncated output. Files the user can read
  stay readable. Where the machine allows (root, or user namespaces) the worker still gets its
  own PID namespace and, as root, its own user id: nothing it starts outlives it and nothing of
  the grader's is writable.

At both levels: a seccomp filter (``_seccomp``) with ``no_new_privs``, its own process group and
a wall-clock timeout; without a PID namespace, sweeps that count a zombie leader whose other
threads still run as alive.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopgrader.sandbox import jail as _jail
from loopgrader.sandbox import namespaces as ns
from loopgrader.sandbox import seccomp as _seccomp
from loopgrader.sandbox.limits import Limits

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
    "slot_cpus",
    "sweep_descendants",
    "worker_environment",
]

LEVELS = ("namespaces", "limits")
SELF_TEST_S = 30.0
UID_BASE = 1_800_000_000  # worker uid = UID_BASE + its pid: unique among live processes
ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "LD_LIBRARY_PATH",
                   "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "VIRTUAL_ENV")
ENV_PREFIXES = ("LOOPGRADER_", "PYTORCH_", "NVIDIA_")
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


class SandboxError(RuntimeError):
    """The worker could not be isolated as asked; it must not run student code."""


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
        raise SandboxError("namespace isolation is not available here (it needs Linux, and "
                           "root or unprivileged user namespaces)")
    return "namespaces" if works else "limits"


def slot_cpus(slots: int) -> list[tuple[int, ...]]:
    """The CPUs of each of ``slots`` job slots: disjoint blocks of the CPUs this process may use
    (one block each when there are enough; else slots share CPUs round-robin, never all of
    them). Empty tuples (no pinning) for a single slot or where affinity is unknown."""
    if slots <= 1 or not hasattr(os, "sched_getaffinity"):
        return [() for _ in range(max(1, slots))]
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < slots:
        return [(cpus[i % len(cpus)],) for i in range(slots)]
    size = len(cpus) // slots
    return [tuple(cpus[i * size:(i + 1) * size]) for i in range(slots)]


@functools.lru_cache(maxsize=1)
def _namespaces_work() -> bool:
    """The self-test, once per process: a forked child (no new interpreter, so milliseconds)."""
    if not _jail.support():
        return False
    try:
        self_test()
    except (OSError, SystemExit):
        return False
    return True


def self_test() -> None:
    """Exit non-zero unless a jailed child at the ``namespaces`` level works here: it must not
    see a hidden file, must see Python, and must write its scratch folder. The child builds the
    whole jail (namespaces, allow-list root, own uid or capabilities dropped, seccomp)."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch, hidden = Path(tmp) / "scratch", Path(tmp) / "hidden"
        scratch.mkdir()
        hidden.mkdir()
        (hidden / "secret").write_text("x", encoding="utf-8")
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                enter_sandbox(SandboxSpec("namespaces", hidden=(str(hidden),)), scratch)
                (scratch / "probe").write_text("ok", encoding="utf-8")
                code = 2 if (hidden / "secret").exists() or not os.path.isdir(sys.prefix) else 0
            finally:
                os._exit(code)
        status = _wait(pid, SELF_TEST_S)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"namespace isolation does not work here ({status})")


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

    Where the machine allows, the caller becomes a shadow that waits for a jailed grandchild
    (see ``jail``) and this returns in the grandchild only. Closes every file descriptor but
    0, 1, 2 and ``keep_fds`` (pipes to multiprocessing's helper processes are not for student
    code). Raises :class:`SandboxError` when the requested level cannot be reached.
    """
    mode = _jail.support()
    if spec.level == "namespaces" and not mode:
        raise SandboxError("namespace isolation is not available here")
    uid = UID_BASE + os.getpid() if mode == "root" else None
    if mode:
        jail = _jail.JailSpec(str(scratch), files=spec.level == "namespaces",
                              network=spec.level == "namespaces", uid=uid, hidden=spec.hidden,
                              readable=tuple(_python_paths(spec.hidden)))
        try:
            _jail.contain(jail, mode)
        except OSError as exc:
            if spec.level == "namespaces":
                raise SandboxError(f"could not isolate the worker: {exc}") from exc
            uid = None  # limits: the process limits and the sweeps still hold
    _close_fds_except(sorted({0, 1, 2, *keep_fds}))
    _set_limits(spec.limits, uid)
    try:
        if uid is not None:
            ns.drop_privileges(uid)
        elif mode == "userns":
            _jail.drop_capabilities()
        _seccomp.install()
    except OSError as exc:
        raise SandboxError(f"could not lock the worker down: {exc}") from exc
    return uid


def _wait(pid: int, seconds: float) -> int:
    """The wait status of child ``pid``; killed (SIGKILL status) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.005)


def _python_paths(hidden: Iterable[str] = ()) -> list[str]:
    """What this interpreter reads to import modules later (student code may import any), but
    nothing at or under a hidden path (pytest puts graders' folders on the import path)."""
    covered = [os.path.realpath(h) for h in hidden]
    found = [os.path.realpath(p) for p in (
        *sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable))) if p and os.path.isabs(p)]
    return [p for p in dict.fromkeys(found)
            if not any(p == h or p.startswith(h.rstrip(os.sep) + os.sep) for h in covered)]


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
    """Every live process's /proc status fields. A zombie is left out (it is already dead) unless
    other threads of it still run: a leader thread that exited leaves its process in state Z
    while the rest of it goes on, and SIGKILL to its pid still ends all of it."""
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    text = Path(entry.path, "status").read_text(encoding="ascii", errors="replace")
                    fields = dict(line.split(":\t", 1) for line in text.splitlines()
                                  if ":\t" in line)
                    if not fields.get("State", "").startswith("Z") or \
                            int(fields.get("Threads", "1").strip() or 1) > 1:
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
