"""A seccomp filter for workers: system calls no lesson needs fail with EPERM.

A raw classic-BPF program installed with ``prctl(PR_SET_SECCOMP)`` through ctypes (no
libseccomp binding needed). Denied: debugging and reaching into other processes (ptrace,
process_vm_*), changing the file system view (mount and the new mount API, pivot_root, chroot,
setns, unshare, clone with namespace flags), loading code into the kernel (bpf, modules,
kexec), keyrings, perf_event_open, userfaultfd, file handles, and machine-wide settings (clock,
reboot, swap, accounting, syslog). ``clone3`` answers ENOSYS: its flags sit in memory a filter
cannot read, and the C library then falls back to ``clone``, whose flags are checked. Threads,
``fork``, sockets on loopback (gloo) and everything torch does stay allowed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
import sys

__all__ = ["DENIED", "install", "supported"]

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ_K, JSET_K, JGE_K, RET_K = 0x20, 0x15, 0x45, 0x35, 0x06
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME

DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
          "chroot", "setns", "unshare", "open_tree", "move_mount", "fsopen", "fsconfig",
          "fsmount", "fspick", "mount_setattr", "bpf", "perf_event_open", "kexec_load",
          "kexec_file_load", "init_module", "finit_module", "delete_module", "keyctl",
          "add_key", "request_key", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
          "fanotify_init", "swapon", "swapoff", "reboot", "acct", "syslog", "settimeofday",
          "clock_settime", "adjtimex", "quotactl",
          # a job slot's CPUs are its own: a worker may not spread onto its neighbours'
          "sched_setaffinity")

# (audit architecture, system call numbers) of the machines torch runs on.
_X86_64 = (0xC000003E, {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "setns": 308, "unshare": 272,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "bpf": 321, "perf_event_open": 298,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "keyctl": 250, "add_key": 248, "request_key": 249,
    "userfaultfd": 323, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "fanotify_init": 300, "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163,
    "syslog": 103, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159,
    "quotactl": 179, "sched_setaffinity": 203, "clone": 56, "clone3": 435})
_AARCH64 = (0xC00000B7, {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "mount": 40,
    "umount2": 39, "pivot_root": 41, "chroot": 51, "setns": 268, "unshare": 97,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "bpf": 280, "perf_event_open": 241,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "keyctl": 219, "add_key": 217, "request_key": 218,
    "userfaultfd": 282, "open_by_handle_at": 265, "name_to_handle_at": 264,
    "fanotify_init": 262, "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89,
    "syslog": 116, "settimeofday": 170, "clock_settime": 112, "adjtimex": 171,
    "quotactl": 60, "sched_setaffinity": 122, "clone": 220, "clone3": 435})
_ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def supported() -> bool:
    """Whether this is Linux on an architecture with a table here."""
    return sys.platform.startswith("linux") and platform.machine() in _ARCHES


def _program() -> list[tuple[int, int, int, int]]:
    arch, numbers = _ARCHES[platform.machine()]
    denied = [numbers[name] for name in DENIED]
    body: list[tuple[int, int, int, int]] = []
    # Each instruction's jump targets are filled in below: "deny" is the last instruction.
    body.append((LD_W_ABS, 0, 0, 4))                     # A = seccomp_data.arch
    body.append((JEQ_K, 1, 0, arch))                     # native? skip the next
    body.append((RET_K, 0, 0, RET_ERRNO | errno.EPERM))  # another ABI (i386, x32): denied
    body.append((LD_W_ABS, 0, 0, 0))                     # A = seccomp_data.nr
    body.append((JGE_K, -1, 0, 0x40000000))              # x32 numbers: deny
    for number in denied:
        body.append((JEQ_K, -1, 0, number))
    body.append((JEQ_K, 0, 1, numbers["clone3"]))
    body.append((RET_K, 0, 0, RET_ERRNO | errno.ENOSYS))
    body.append((JEQ_K, 0, 2, numbers["clone"]))
    body.append((LD_W_ABS, 0, 0, 16))                    # A = low half of the flags argument
    body.append((JSET_K, -1, 0, NAMESPACE_FLAGS))
    body.append((RET_K, 0, 0, RET_ALLOW))
    deny = len(body)
    body.append((RET_K, 0, 0, RET_ERRNO | errno.EPERM))
    return [(code, deny - i - 1 if jt == -1 else jt, jf, k)
            for i, (code, jt, jf, k) in enumerate(body)]


def install() -> None:
    """Install the filter on the calling thread (and every thread or process it starts).

    Sets ``no_new_privs`` first (the kernel requires it of unprivileged callers). Raises
    OSError when the kernel refuses; on an architecture without a table, does nothing."""
    if not supported():
        return
    program = _program()
    raw = b"".join(struct.pack("HBBI", code, jt, jf, k) for code, jt, jf, k in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = _SockFprog(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    for args in ((PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                 (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)):
        if libc.prctl(*[ctypes.c_ulong(a) for a in args]) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"seccomp: {errno.errorcode.get(code, code)}")
