"""The jail around one worker (Linux): what it lives in, what it sees, what it may call.

``contain`` runs in a freshly forked worker ``W`` and returns only in a grandchild ``S``:

- ``W`` unshares new PID, mount and IPC namespaces (and a network namespace at the
  ``namespaces`` level; a user namespace too when not root), forks the namespace's init ``I``,
  and waits for it: ``W`` ends exactly as the student process ended (same exit code or signal).
- ``I`` (PID 1 of the new namespace, dies with ``W``) mounts a ``/proc`` that shows only the
  namespace, builds the allow-list root at the ``namespaces`` level, forks ``S`` and reaps
  orphans until ``S`` ends; then it exits, and the kernel kills every process left in the
  namespace: a new session, a double fork, a zombie leader with live threads, all of them.
- ``S`` runs student code.

The allow-list root (``namespaces`` level) is a fresh tmpfs holding read-only bind mounts of
Python's installation and the import path (``hidden`` paths covered again inside them), a few
files of ``/etc``, a minimal ``/dev``, a private ``/tmp`` with the scratch folder in it, and
the new ``/proc``; ``pivot_root`` moves the worker into it and detaches the old root.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from loopgrader.sandbox import namespaces as ns

__all__ = ["JailSpec", "contain", "drop_capabilities", "support"]

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
PR_SET_PDEATHSIG = 1
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}
CAPSET = {"x86_64": 126, "aarch64": 91, "arm64": 91}
ETC = ("passwd", "group", "hosts", "nsswitch.conf", "host.conf", "resolv.conf", "localtime",
       "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "gai.conf", "os-release", "mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class JailSpec:
    """What ``contain`` builds. ``files``: the allow-list root (else the host's files stay);
    ``network``: a network namespace with only its own loopback."""

    scratch: str
    files: bool
    network: bool
    uid: int | None  # the worker's own uid (root only); None: keep the caller's
    hidden: tuple[str, ...] = ()
    readable: tuple[str, ...] = ()  # Python's folders, bound read-only


def support() -> str:
    """How this process can build a jail: ``root``, ``userns`` (unprivileged user namespaces)
    or ``""`` (neither: Linux without them, or another system)."""
    if not sys.platform.startswith("linux"):
        return ""
    if os.geteuid() == 0:
        return "root"
    return "userns" if _userns_works() else ""


@lru_cache(maxsize=1)
def _userns_works() -> bool:
    probe = ("import ctypes, os; l = ctypes.CDLL(None, use_errno=True); "
             f"raise SystemExit(l.unshare({CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS}))")
    try:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def contain(spec: JailSpec, mode: str) -> None:
    """Jail the calling, freshly forked and single-threaded worker; returns only in ``S``.

    Raises OSError (before any fork) if the namespaces cannot be made; a failure inside ``I``
    comes back as OSError in ``S``, which then must not run student code."""
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if spec.network else 0)
    uid, gid = os.getuid(), os.getgid()
    if mode == "userns":
        flags |= CLONE_NEWUSER
    libc = ns.libc()
    ns.check(libc.unshare(flags), "unshare")
    if mode == "userns":
        _map_ids(uid, gid)
    status_read, status_write = os.pipe()
    init = os.fork()
    if init:
        _wait_as_shadow(init, status_read, status_write)
    os.close(status_read)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # I and S lead process groups of their own, visible inside the namespace: S's "parent's
    # group" is I alone (not S's own group), and both end with W all the same (PDEATHSIG).
    os.setpgid(0, 0)
    error: OSError | None = None
    try:
        _prepare(libc, spec)
    except OSError as exc:
        error = exc
    student = os.fork()
    if student == 0:
        os.close(status_write)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setpgid(0, 0)
        if error is not None:
            raise error
        return
    _reap_as_init(student, status_write)


def _map_ids(uid: int, gid: int) -> None:
    """In a new user namespace: the same uid and gid inside as outside, nothing else."""
    Path("/proc/self/setgroups").write_text("deny", encoding="ascii")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1", encoding="ascii")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1", encoding="ascii")


def _wait_as_shadow(init: int, status_read: int, status_write: int) -> None:
    """``W``: keep nothing open, wait for ``I``, end as the student process ended."""
    os.close(status_write)
    _close_all_but(status_read)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(status_read, 64):
            data += chunk
    with contextlib.suppress(ChildProcessError):
        os.waitpid(init, 0)
    status = int(data) if data.strip().isdigit() else None
    if status is not None and os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    sig = os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) \
        else signal.SIGKILL
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # ending like S, not dumping core
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)


def _reap_as_init(student: int, status_write: int) -> None:
    """``I``: reap every orphan until the student process ends; report its status; exit (the
    kernel then kills whatever is left in the namespace)."""
    _close_all_but(status_write)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == student:
            with contextlib.suppress(OSError):
                os.write(status_write, str(status).encode("ascii"))
            os._exit(0)


def _close_all_but(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


def _prepare(libc: ctypes.CDLL, spec: JailSpec) -> None:
    """In ``I``: private mounts, this namespace's ``/proc``, the allow-list root."""
    ns.mount(libc, None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    if spec.network:
        ns.loopback_up()
    if spec.uid is not None:
        os.chown(spec.scratch, spec.uid, spec.uid)
        os.chmod(spec.scratch, 0o700)
    if spec.files:
        _pivot(libc, spec)
    else:
        if spec.uid is not None:  # Python may sit under a folder only root may enter (/root)
            ns.make_reachable(libc, spec.readable)
        ns.mount(libc, "proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)


def _pivot(libc: ctypes.CDLL, spec: JailSpec) -> None:
    root = os.path.join(spec.scratch, ".root")
    os.mkdir(root, 0o755)
    ns.mount(libc, "tmpfs", root, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV,
             "size=1m,nr_inodes=4096,mode=755")
    tmp = os.path.join(root, "tmp")  # first: Python's folders may live in /tmp (CI runners)
    _make_dir(tmp)
    ns.mount(libc, "tmpfs", tmp, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV,
             "size=64m,nr_inodes=4096,mode=1777")
    readable = _outermost(os.path.realpath(p) for p in (*spec.readable, "/usr")
                          if p and os.path.isdir(p))
    for path in readable:
        _bind(libc, path, root + path, read_only=True)
    for name in TOP_LINKS:
        source = os.path.join("/", name)
        if os.path.islink(source):
            os.symlink(os.readlink(source), os.path.join(root, name))
        elif os.path.isdir(source) and not any(_within(source, p) for p in readable):
            _bind(libc, source, os.path.join(root, name), read_only=True)
    for name in ETC:
        source = os.path.join("/etc", name)
        if os.path.exists(source):
            _bind(libc, os.path.realpath(source), root + source, read_only=True)
    _make_dev(libc, root)
    if any(n.startswith("nvidia") for n in _listdir("/dev")) and os.path.isdir("/sys"):
        _bind(libc, "/sys", os.path.join(root, "sys"), read_only=True)  # the CUDA driver reads it
    _make_dir(os.path.join(root, "proc"))
    ns.mount(libc, "proc", os.path.join(root, "proc"), "proc",
             ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    os.makedirs(os.path.join(root, "var"), exist_ok=True)
    os.symlink("/tmp", os.path.join(root, "var", "tmp"))
    _bind(libc, spec.scratch, root + spec.scratch, read_only=False)
    for path in spec.hidden:  # inside a folder bound above (a course beside an editable install)
        if any(_within(path, p) for p in readable) and os.path.lexists(root + path):
            ns.cover(libc, root + path)
    os.mkdir(os.path.join(root, ".old"))
    ns.check(libc.syscall(PIVOT_ROOT[os.uname().machine], root.encode(),
                          os.path.join(root, ".old").encode()), "pivot_root")
    os.chdir("/")
    ns.check(libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    ns.mount(libc, None, "/", None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY | ns.MS_NOSUID
             | ns.MS_NODEV)


def _make_dev(libc: ctypes.CDLL, root: str) -> None:
    dev = os.path.join(root, "dev")
    _make_dir(dev)
    ns.mount(libc, "tmpfs", dev, "tmpfs", ns.MS_NOSUID, "size=64k,nr_inodes=64,mode=755")
    names = [*DEVICES, *(n for n in _listdir("/dev") if n.startswith("nvidia"))]
    for name in names:
        if os.path.exists(os.path.join("/dev", name)):
            _bind(libc, os.path.join("/dev", name), os.path.join(dev, name), read_only=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    shm = os.path.join(dev, "shm")
    _make_dir(shm)
    ns.mount(libc, "tmpfs", shm, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV,
             "size=256m,nr_inodes=4096,mode=1777")


def _bind(libc: ctypes.CDLL, source: str, target: str, *, read_only: bool) -> None:
    if os.path.isdir(source):
        _make_dir(target)
    else:
        _make_dir(os.path.dirname(target))
        if not os.path.exists(target):
            open(target, "x").close()
    ns.mount(libc, source, target, None, ns.MS_BIND | (ns.MS_REC if read_only else 0))
    if read_only:  # keep the flags the original mount has (a user namespace must)
        kept = os.statvfs(source).f_flag & (ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC
                                            | 1024 | 2048 | 4096)
        ns.mount(libc, None, target, None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY
                 | ns.MS_NOSUID | ns.MS_NODEV | kept)


def _make_dir(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> list[str]:
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != o and _within(p, o) for o in unique)]


def drop_capabilities() -> None:
    """Give up every capability (a user namespace's creator holds them all inside it)."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    number = CAPSET.get(os.uname().machine)
    if number is None:
        raise OSError("cannot drop capabilities on this architecture")
    ns.check(ns.libc().syscall(number, header, data), "capset")
