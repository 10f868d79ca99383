"""Extracting a student's ``.zip`` without trusting it.

Refused: absolute paths, ``..``, drive letters and backslash tricks, symbolic links and any entry
that is not a plain file or folder, encrypted entries, more than ``max_files`` entries, a file
larger than ``max_file_bytes`` or a total larger than ``max_total_bytes`` (counted while
decompressing: the sizes a zip declares may lie), and names that appear twice. Nothing is
written outside the target folder, and a refused archive leaves nothing behind.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from loopgrader.errors import SubmissionError

__all__ = ["ZipLimits", "extract_zip"]

CHUNK = 1 << 16


@dataclass(frozen=True)
class ZipLimits:
    """How much one submission's archive may hold."""

    max_files: int = 2000
    max_file_bytes: int = 20 << 20
    max_total_bytes: int = 100 << 20


def extract_zip(archive: Path, target: Path, limits: ZipLimits = ZipLimits()) -> list[Path]:
    """Extract ``archive`` into ``target`` (created; must not exist); returns the files written.

    Raises :class:`SubmissionError` (and removes ``target``) if anything in it is refused.
    """
    target.mkdir(parents=True, exist_ok=False)
    try:
        return _extract(archive, target, limits)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _extract(archive: Path, target: Path, limits: ZipLimits) -> list[Path]:
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
            if len(entries) > limits.max_files:
                raise _refuse(archive, f"it holds {len(entries)} entries (at most "
                                       f"{limits.max_files} allowed)")
            seen: set[str] = set()
            written: list[Path] = []
            budget = [limits.max_total_bytes]
            for info in entries:
                relative = _safe_name(archive, info, seen)
                if relative is None:
                    continue
                written.append(_write_entry(zf, info, target / relative, archive, limits, budget))
            return written
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            RuntimeError, ValueError, OSError) as exc:
        raise _refuse(archive, f"it is not a readable zip file ({exc})") from None


def _refuse(archive: Path, why: str) -> SubmissionError:
    return SubmissionError(f"{archive.name}: the archive was not extracted: {why}")


def _safe_name(archive: Path, info: zipfile.ZipInfo, seen: set[str]) -> PurePosixPath | None:
    """The entry's relative path, None for a folder; refuses anything unsafe."""
    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no type recorded (a plain file)
    if info.flag_bits & 0x1:
        raise _refuse(archive, f"{name!r} is encrypted")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(archive, f"{name!r} is a link or a special file")
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and
                                                                  name[1] == ":"):
        raise _refuse(archive, f"{name!r} is not a relative path")
    path = PurePosixPath(name)
    if any(part in ("..", "") for part in path.parts) or not path.parts:
        raise _refuse(archive, f"{name!r} points outside the archive's folder")
    key = str(path).casefold()
    if key in seen:
        raise _refuse(archive, f"{name!r} appears more than once")
    seen.add(key)
    return None if info.is_dir() else path


def _write_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, archive: Path,
                 limits: ZipLimits, budget: list[int]) -> Path:
    if info.file_size > limits.max_file_bytes:
        raise _refuse(archive, f"{info.filename!r} is larger than {limits.max_file_bytes} bytes")
    destination.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with zf.open(info) as source, open(destination, "xb") as sink:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            budget[0] -= len(chunk)
            if size > limits.max_file_bytes:
                raise _refuse(archive, f"{info.filename!r} is larger than "
                                       f"{limits.max_file_bytes} bytes")
            if budget[0] < 0:
                raise _refuse(archive, f"it holds more than {limits.max_total_bytes} bytes")
            sink.write(chunk)
    destination.chmod(0o644)
    return destination
