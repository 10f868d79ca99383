"""Tells ``watch`` when some files were saved: file-system events through ``watchfiles``, or
polling where the file system sends none (network drives, WSL's Windows drives, FUSE mounts).

Editors save in bursts (write a backup, rename, write, change the mode): changes are grouped
until the folder has been quiet for a moment, so one save is one batch. The folders holding
the files are watched, not the files, so a save that replaces the file by a rename is seen too.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NO_EVENTS_FILE_SYSTEMS", "FileWatcher", "WatchMode", "choose_mode"]

# File systems whose changes made elsewhere raise no inotify events (or none at all).
NO_EVENTS_FILE_SYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "drvfs", "v9fs", "afs", "ncpfs", "coda",
    "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.vmhgfs-fuse",
    "fuse.vboxsf", "vboxsf", "virtiofs", "fuse.dfuse", "lustre", "gpfs", "ceph", "glusterfs",
    "fuse.glusterfs",
})
QUIET_MS = 60  # a save's burst is over once the folder is quiet this long
LONGEST_BURST_MS = 800  # group a burst of changes at most this long
POLL_MS = 150  # how often polling looks at the files


@dataclass(frozen=True)
class WatchMode:
    """How changes are noticed, and why (said on screen)."""

    polling: bool
    reason: str

    def describe(self) -> str:
        return f"polling every {POLL_MS} ms ({self.reason})" if self.polling else \
            f"file-system events ({self.reason})"


def choose_mode(folders: Collection[Path], force_polling: bool | None = None) -> WatchMode:
    """Events unless asked otherwise or a folder lies on a file system known to send none."""
    if force_polling is not None:
        return WatchMode(force_polling, "--poll" if force_polling else "--no-poll")
    setting = os.environ.get("WATCHFILES_FORCE_POLLING", "").strip().lower()
    if setting:
        polling = setting not in ("false", "disable", "disabled", "0", "no")
        return WatchMode(polling, f"WATCHFILES_FORCE_POLLING={setting}")
    mounts = _mounts()
    for folder in folders:
        kind = _file_system(folder, mounts)
        if kind in NO_EVENTS_FILE_SYSTEMS:
            return WatchMode(True, f"{folder} is on {kind}, which sends no change events")
    if _is_wsl() and any(str(folder.resolve()).startswith("/mnt/") for folder in folders):
        return WatchMode(True, "a Windows drive under WSL sends no change events")
    return WatchMode(False, "inotify")


def _mounts() -> list[tuple[str, str]]:
    """(mount point, file-system type), longest mount point first."""
    found: list[tuple[str, str]] = []
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 3:
                    point = parts[1].replace("\\040", " ").replace("\\011", "\t")
                    found.append((point, parts[2]))
    except OSError:
        return []
    return sorted(found, key=lambda item: len(item[0]), reverse=True)


def _file_system(folder: Path, mounts: list[tuple[str, str]]) -> str | None:
    path = str(folder.resolve())
    for point, kind in mounts:
        if path == point or path.startswith(point.rstrip("/") + "/"):
            return kind
    return None


def _is_wsl() -> bool:
    try:
        with open("/proc/version", encoding="utf-8", errors="replace") as handle:
            return "microsoft" in handle.read().lower()
    except OSError:
        return False


class FileWatcher:
    """Yields, for each save, the watched files it changed (created, written or removed).

    A thread watches from :meth:`start` on, so saves made while a grading runs are not lost:
    they are gathered and yielded as one batch when the grading is over.
    """

    def __init__(self, files: Collection[Path], *, force_polling: bool | None = None) -> None:
        self.files = frozenset(Path(os.path.abspath(f)) for f in files)
        self._folders, self._recursive = _folders(self.files)
        self.mode = choose_mode(self._folders, force_polling)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._batches: queue.SimpleQueue[frozenset[Path] | BaseException] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def folders(self) -> tuple[Path, ...]:
        return self._folders

    def start(self) -> None:
        """Start watching (saves from now on are reported)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="loopgrader-watch",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End :meth:`saves` (from any thread)."""
        self._stop.set()
        self._ready.set()

    def saves(self) -> Iterator[frozenset[Path]]:
        """Each save (all saves made since the last one yielded, together) until :meth:`stop`.
        KeyboardInterrupt reaches the caller at once (short waits)."""
        self.start()
        while not self._stop.is_set():
            try:
                batch = self._batches.get(timeout=0.2)
            except queue.Empty:
                continue
            pending: set[Path] = set()
            while True:  # saves made while the last one was graded: grade them together
                if isinstance(batch, BaseException):
                    raise batch
                pending |= batch
                try:
                    batch = self._batches.get_nowait()
                except queue.Empty:
                    break
            yield frozenset(pending)

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until the file system is being watched (tests save right after a result)."""
        self.start()
        self._ready.wait(timeout)

    def _watch(self) -> None:
        import watchfiles

        wanted = {str(path) for path in self.files}

        def relevant(_change: object, path: str) -> bool:
            return os.path.abspath(path) in wanted

        while not self._stop.is_set():
            try:
                for changes in watchfiles.watch(
                        *self._folders, watch_filter=relevant, debounce=LONGEST_BURST_MS,
                        step=QUIET_MS, stop_event=self._stop, rust_timeout=200,
                        yield_on_timeout=True, force_polling=self.mode.polling,
                        poll_delay_ms=POLL_MS, recursive=self._recursive,
                        raise_interrupt=False, ignore_permission_denied=True):
                    self._ready.set()
                    if changes:
                        self._batches.put(frozenset(Path(os.path.abspath(path))
                                                    for _, path in changes))
                return
            except (OSError, RuntimeError) as error:  # no events here (e.g. inotify's limit)
                if self.mode.polling:
                    self._batches.put(error)
                    return
                self.mode = WatchMode(True, f"file-system events failed: {error}")
            except BaseException as error:  # handed to the thread reading the saves
                self._batches.put(error)
                return


def _folders(files: Collection[Path]) -> tuple[tuple[Path, ...], bool]:
    """The folders to watch: each file's folder, or its nearest existing ancestor (watched
    recursively, so the file is seen once its folder is made)."""
    folders: set[Path] = set()
    recursive = False
    for file in files:
        folder = file.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
            recursive = True
        folders.add(folder)
    return tuple(sorted(folders)), recursive
