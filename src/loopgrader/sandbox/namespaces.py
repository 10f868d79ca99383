"""Linux system calls behind the ``namespaces`` isolation level (through ctypes: Python 3.10
has no ``os.unshare`` or ``mount``). Only :mod:`loopgrader.sandbox.isolation` uses this module."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["drop_privileges", "isolate_filesystem", "self_test"]

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
EMPTY = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc included


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def isolate_filesystem(scratch: Path, hidden: Iterable[str], private: Iterable[str],
                       reachable: Iterable[str] = ()) -> None:
    """New mount and network namespaces (with only a loopback of its own); ``hidden`` paths
    covered by empty read-only file systems; each ``private`` folder replaced by a small
    private tmpfs; ``scratch`` kept; ``reachable`` folders (Python's own) made reachable by any
    user (see below)."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _loopback_up()
    # Nothing mounted from here on may reach the host's namespace.
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    keep = os.open(scratch, os.O_PATH | os.O_DIRECTORY)  # a handle in the new namespace
    try:
        _make_reachable(libc, reachable)
        for path in hidden:
            _cover(libc, path)
        python = _outermost(os.path.realpath(p) for p in reachable if p and os.path.exists(p))
        for folder in private:
            if os.path.isdir(folder) and not os.path.islink(folder):
                _make_private(libc, folder, [p for p in python if _inside(p, folder)])
        if not _same_folder(scratch, keep):
            scratch.mkdir(parents=True, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{keep}", str(scratch), None, MS_BIND | MS_REC)
    finally:
        os.close(keep)


def _make_private(libc: ctypes.CDLL, folder: str, keep: list[str]) -> None:
    """Cover ``folder`` with a small private tmpfs; bind back the folders of ``keep`` (Python's
    own, when the interpreter or a virtual environment lives in /tmp, as on a CI runner)."""
    handles = [(path, os.open(path, os.O_PATH)) for path in keep]
    try:
        _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
               "size=64m,nr_inodes=4096,mode=1777")
        for path, fd in handles:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                open(path, "x").close()
            _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    finally:
        for _, fd in handles:
            os.close(fd)


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths not inside another of them."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(_inside(p, other) for other in unique if other != p)]


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _loopback_up() -> None:
    """Bring up the new network namespace's own loopback: processes of one worker may talk to
    each other (a ``torch.distributed`` gloo group on 127.0.0.1), but nothing outside it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def _make_reachable(libc: ctypes.CDLL, paths: Iterable[str]) -> None:
    """A folder Python needs may sit under one other users cannot enter (``/root`` is 0700):
    cover that ancestor with an empty tmpfs and bind back only the entries on the way. Whatever
    else it held (a home folder's keys and credentials) is then out of sight as well."""
    wanted = [os.path.realpath(p) for p in paths if p and os.path.exists(p)]
    for _ in range(8):  # nested locked folders: one level per round
        blocked: dict[str, set[str]] = {}
        for path in wanted:
            ancestor = _first_locked(path)
            if ancestor is not None:
                child = os.path.relpath(path, ancestor).split(os.sep)[0]
                blocked.setdefault(ancestor, set()).add(child)
        if not blocked:
            return
        for ancestor, children in sorted(blocked.items()):
            _open_up(libc, ancestor, sorted(children))


def _first_locked(path: str) -> str | None:
    parts = Path(path).parts
    for depth in range(1, len(parts)):
        folder = os.path.join(*parts[:depth])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _open_up(libc: ctypes.CDLL, folder: str, children: list[str]) -> None:
    handles = {name: os.open(os.path.join(folder, name), os.O_PATH) for name in children}
    try:
        _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
               "size=16k,nr_inodes=64,mode=755")
        for name, fd in handles.items():
            target = os.path.join(folder, name)
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.mkdir(target)
            else:
                open(target, "x").close()
            _mount(libc, f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    finally:
        for fd in handles.values():
            os.close(fd)


def _cover(libc: ctypes.CDLL, path: str) -> None:
    if os.path.islink(path) or not os.path.exists(path):
        return
    if os.path.isdir(path):
        _mount(libc, "tmpfs", path, "tmpfs", EMPTY, "size=4k,nr_inodes=16,mode=755")
    else:
        _mount(libc, "/dev/null", path, None, MS_BIND)


def _same_folder(path: Path, fd: int) -> bool:
    try:
        mine, kept = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (kept.st_dev, kept.st_ino)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (no groups), irreversibly, and forbid regaining privileges (setuid files)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not switch to uid {uid}")


def self_test() -> None:
    """Raises (so a non-zero exit) if the namespaces level cannot work here; changes nothing
    outside a forked child, which does the isolation."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch, hidden = Path(tmp) / "scratch", Path(tmp) / "hidden"
        scratch.mkdir()
        hidden.mkdir()
        (hidden / "secret").write_text("x", encoding="utf-8")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _isolated_checks(scratch, hidden)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        os.chown(scratch, os.getuid(), os.getgid())
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError("namespace isolation does not work here")


def _isolated_checks(scratch: Path, hidden: Path) -> int:
    isolate_filesystem(scratch, [str(hidden)], [])
    if (hidden / "secret").exists():
        return 2
    isolate_filesystem(scratch, [], [tempfile.gettempdir()])
    os.chown(scratch, 1_799_999_999, 1_799_999_999)
    drop_privileges(1_799_999_999)
    (scratch / "probe").write_text("ok", encoding="utf-8")
    return 0
