"""A batch's submissions: found in the instructor's folder, and staged for grading.

A submission is a folder laid out like ``exercises/`` or a ``.zip`` of one (the student is the
folder's or archive's name). Staging copies, for each lesson, only the files the lesson names
(its file, a notebook of the same stem, and ``answers.yaml``) into a fresh folder: nothing else
from the submission is ever copied, symbolic links are never followed, and files past a size
limit are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from loopgrader.batch.safezip import ZipLimits, extract_zip
from loopgrader.course.catalog import Lesson
from loopgrader.errors import SubmissionError, UsageError

__all__ = ["Staged", "Submission", "discover", "stage"]

ANSWERS = "answers.yaml"
MAX_LESSON_FILE = 1 << 20
MAX_NOTEBOOK_FILE = 32 << 20  # outputs (plots) make notebooks large; only the code is graded
MAX_ANSWERS_FILE = 256 << 10
MAX_WALK = 20_000


@dataclass(frozen=True)
class Submission:
    """One student's submission: a folder or a zip file."""

    student: str
    path: Path

    @property
    def is_zip(self) -> bool:
        return self.path.suffix.lower() == ".zip"


@dataclass
class Staged:
    """What was found for each lesson, copied under ``root`` as ``<lesson>/<name>``."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # lesson → staged lesson file
    notebooks: dict[str, Path] = field(default_factory=dict)  # lesson → staged notebook
    answers: dict[str, Path] = field(default_factory=dict)  # lesson → staged answers file
    problems: dict[str, str] = field(default_factory=dict)  # lesson → why it was refused
    fingerprints: dict[str, str] = field(default_factory=dict)  # lesson → what was submitted


def discover(folder: Path) -> list[Submission]:
    """Every submission in ``folder``, sorted by student; refuses two with the same name."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of submissions",
                         hint="pass a folder holding one folder or .zip per student")
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir():
            name = entry.name
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            name = entry.stem
        else:
            continue
        if name in found:
            raise UsageError(f"{folder}: two submissions for {name!r} "
                             f"({found[name].path.name} and {entry.name})",
                             hint="keep one of them")
        found[name] = Submission(name, entry)
    return sorted(found.values(), key=lambda s: s.student)


def safe_name(student: str) -> str:
    """A file name for ``student`` (letters, digits, ``._-``; a hash keeps names distinct)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "student"
    if clean == student:
        return clean
    return f"{clean[:60]}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"


def stage(submission: Submission, lessons: list[Lesson], target: Path) -> Staged:
    """Copy what ``lessons`` need from ``submission`` into ``target`` (a new folder).

    Raises :class:`SubmissionError` when the archive itself is refused.
    """
    source = submission.path
    if submission.is_zip:
        source = target / "unzipped"
        extract_zip(submission.path, source, ZipLimits())
    staged = Staged(target / "submission")
    staged.root.mkdir(parents=True)
    tree = _regular_files(source)
    for lesson in lessons:
        if lesson.file is not None:
            _stage_file(staged, tree, lesson, lesson.file, MAX_LESSON_FILE, staged.files)
            _stage_file(staged, tree, lesson, Path(lesson.file).stem + ".ipynb",
                        MAX_NOTEBOOK_FILE, staged.notebooks)
        _stage_file(staged, tree, lesson, ANSWERS, MAX_ANSWERS_FILE, staged.answers)
        staged.fingerprints[lesson.id] = _fingerprint(staged, lesson.id)
    if submission.is_zip:
        shutil.rmtree(source, ignore_errors=True)
    return staged


def _regular_files(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """(relative parts, path) of every regular file under ``root``; links are not followed."""
    found: list[tuple[tuple[str, ...], Path]] = []
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(files) + len(dirs)
        if seen > MAX_WALK:
            raise SubmissionError(f"the submission holds more than {MAX_WALK} files")
        for name in sorted(files):
            path = Path(folder) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                found.append((path.relative_to(root).parts, path))
    return found


def _stage_file(staged: Staged, tree: list[tuple[tuple[str, ...], Path]], lesson: Lesson,
                name: str, limit: int, into: dict[str, Path]) -> None:
    matches = [path for parts, path in tree if parts[-2:] == (lesson.id, name)]
    if not matches:
        return
    chosen = min(matches, key=lambda p: (len(p.parts), str(p)))
    size = os.lstat(chosen).st_size
    if size > limit:
        staged.problems[lesson.id] = (f"{lesson.id}/{name} is {size} bytes, more than the "
                                      f"{limit} allowed: it was not graded")
        return
    target = staged.root / lesson.id / name
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(chosen, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        target.write_bytes(handle.read(limit))
    into[lesson.id] = target


def _fingerprint(staged: Staged, lesson: str) -> str:
    digest = hashlib.sha256()
    for label, files in (("file", staged.files), ("answers", staged.answers),
                         ("notebook", staged.notebooks)):
        path = files.get(lesson)
        digest.update(label.encode() + b"\0")
        digest.update(path.read_bytes() if path else b"-")
    return digest.hexdigest()
