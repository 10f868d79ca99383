"""Linux system calls behind the jail (through ctypes: Python has no ``mount``); used by
:mod:`loopgrader.sandbox.jail` and :mod:`loopgrader.sandbox.isolation` only."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

__all__ = ["check", "cover", "drop_privileges", "libc", "loopback_up", "make_reachable", "mount"]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
EMPTY = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc included


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def loopback_up() -> None:
    """Bring up the new network namespace's own loopback: processes of one worker may talk to
    each other (a ``torch.distributed`` gloo group on 127.0.0.1), but nothing outside it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def cover(libc: ctypes.CDLL, path: str) -> None:
    if os.path.islink(path) or not os.path.exists(path):
        return
    if os.path.isdir(path):
        mount(libc, "tmpfs", path, "tmpfs", EMPTY, "size=4k,nr_inodes=16,mode=755")
    else:
        mount(libc, "/dev/null", path, None, MS_BIND)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (no groups), irreversibly, and forbid regaining privileges (setuid files)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    check(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not switch to uid {uid}")


def make_reachable(libc: ctypes.CDLL, paths: Iterable[str]) -> None:
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
        mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
               "size=16k,nr_inodes=64,mode=755")
        for name, fd in handles.items():
            target = os.path.join(folder, name)
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.mkdir(target)
            else:
                open(target, "x").close()
            mount(libc, f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    finally:
        for fd in handles.values():
            os.close(fd)
