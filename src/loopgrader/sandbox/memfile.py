"""Files only the grader host and its grader runs can reach: the run plan and the JSON report.

On Linux they are memory files (``memfd_create``): no path in any file system, reachable by
other processes only through ``/proc/<pid>/fd`` of a process that is not dumpable (see
``host``), so not at all. Elsewhere, a file of mode 0600 in the run's folder.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["create", "path", "read_json"]


def create(name: str, folder: str, text: str = "") -> int | str:
    """A file only this process and its forks can reach: a memfd (its number), or where there
    is none, a private file in ``folder`` (its path)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(f"loopgrader-{name}", 0)
        os.write(fd, text.encode("utf-8"))
        return fd
    where = os.path.join(folder, f"{name}.json")
    with open(os.open(where, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8") as handle:
        handle.write(text)
    return where


def path(file: int | str) -> str:
    """The path that opens ``file`` in this process (and its forks)."""
    return f"/proc/self/fd/{file}" if isinstance(file, int) else file


def read_json(file: int | str) -> Any:
    """The JSON the grader run left in ``file`` (then closed), or None."""
    try:
        if isinstance(file, int):
            os.lseek(file, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(file, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
        else:
            with open(file, "rb") as handle:
                data = handle.read()
        return json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    finally:
        if isinstance(file, int):
            os.close(file)
