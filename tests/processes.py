"""Finding processes from the outside, for tests that prove nothing a submission started survives.

A worker may live in a PID namespace of its own (its pids mean nothing here) and may not write
outside its scratch folder, so a test marks the child it expects by a unique command line
(``sleep 300.<nanoseconds>``) and looks for it in ``/proc``.
"""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    """The pids still alive after waiting up to ``seconds`` for them to end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return {pid for pid in pids if alive(pid)}


def unique_sleep() -> str:
    """A ``sleep`` duration no other process uses: the mark of a test's child."""
    return f"300.{time.time_ns() % 10**9}"


def sleepers(duration: str) -> set[int]:
    """Live ``sleep <duration>`` processes."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if entry.read_bytes().split(b"\0")[:2] == [b"sleep", duration.encode()] and \
                    alive(int(entry.parent.name)):
                found.add(int(entry.parent.name))
        except OSError:
            continue
    return found
