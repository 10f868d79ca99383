"""When a submission was handed in, from the source the instructor names.

``manifest``: a CSV ``student,submitted_at[,lesson]`` — what an LMS bulk download or its
submissions export gives (Canvas, Moodle, Gradescope all record the upload time on their
server). A row without a lesson applies to every lesson of that student. The only source a
student cannot forge.

``git``: the committer time of the last commit that touched the lesson's file, when the
submission is a git repository (a folder holding ``.git``). Forgeable: the student's machine
writes commit times (``GIT_COMMITTER_DATE``, a wrong clock, a rebase). Prefer the push time
your git host records (GitHub Classroom's, GitLab's push events) exported as a manifest.

``file``: the modification time of the archive (``bob.zip``) or of the lesson's file inside a
folder. A last resort: forgeable (``touch``, zip entry times) and changed by copying or
downloading the files.

A lesson whose source has no time (a student missing from the manifest, a folder that is not a
repository) falls back to the file time, and the gradebook says so (``source``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from loopgrader.batch.tables import input_error, read_table
from loopgrader.course.calendar import parse_timestamp

__all__ = ["SOURCES", "SubmissionClock", "SubmittedAt", "git_time", "load_manifest"]

SOURCES = ("manifest", "git", "file")
ANY_LESSON = "*"
GIT_TIMEOUT_S = 20
# Settings of a submission's own .git/config that could run a program are overridden on the
# command line (which wins over the repository's config); nothing else of git runs.
GIT_SAFE = ("-c", "core.fsmonitor=false", "-c", "core.pager=cat", "-c", "log.showSignature=false",
            "-c", "gpg.program=false", "-c", "core.hooksPath=/dev/null", "-c",
            "diff.external=", "-c", "safe.directory=*")


@dataclass(frozen=True)
class SubmittedAt:
    """A submission time (UTC) and where it came from (``manifest``, ``git``, ``file``)."""

    at: datetime | None
    source: str


@dataclass(frozen=True)
class SubmissionClock:
    """Resolves (student, lesson) to a submission time from the chosen source."""

    source: str = "file"
    manifest: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def submitted(self, student: str, lesson: str, entry: Path,
                  lesson_file: Path | None) -> SubmittedAt:
        """``entry`` is the submission (folder or zip); ``lesson_file`` the lesson's file found
        inside a folder (None for a zip or when none was found)."""
        if self.source == "manifest":
            at = self.manifest.get((student, lesson)) or self.manifest.get((student, ANY_LESSON))
            if at is not None:
                return SubmittedAt(at, "manifest")
        if self.source == "git" and lesson_file is not None and (entry / ".git").exists():
            found = git_time(entry, lesson_file)
            if found is not None:
                return SubmittedAt(found, "git")
        return SubmittedAt(_file_time(entry, lesson_file), "file")


def _file_time(entry: Path, lesson_file: Path | None) -> datetime | None:
    path = entry if entry.is_file() or lesson_file is None else lesson_file
    try:
        return datetime.fromtimestamp(os.lstat(path).st_mtime, timezone.utc)
    except OSError:
        return None


def git_time(repo: Path, file: Path) -> datetime | None:
    """The committer time of the last commit touching ``file`` in the repository ``repo``
    (None when git is missing, the file was never committed, or git fails)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["git", *GIT_SAFE, "-C", str(repo), "log", "-1", "--format=%ct", "--",
             str(file.relative_to(repo))],
            capture_output=True, text=True, timeout=GIT_TIMEOUT_S, env=env, check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    stamp = result.stdout.strip()
    if result.returncode != 0 or not stamp.isdigit():
        return None
    return datetime.fromtimestamp(int(stamp), timezone.utc)


def load_manifest(path: Path, *, lessons: set[str]) -> dict[tuple[str, str], datetime]:
    """(student, lesson or ``*``) → submitted_at from a manifest CSV."""
    found: dict[tuple[str, str], datetime] = {}
    for row in read_table(path, required=("student", "submitted_at"),
                          what="submission manifest"):
        student, lesson = row.get("student"), row.get("lesson") or ANY_LESSON
        if not student:
            raise input_error(path, row.line, "the student cell is empty",
                              "write the submission's folder or archive name")
        if lesson != ANY_LESSON and lesson not in lessons:
            raise input_error(path, row.line, f"unknown lesson {lesson!r}",
                              "write a lesson id of the course, or leave the cell empty for "
                              "every lesson")
        try:
            at = parse_timestamp(row.get("submitted_at"))
        except ValueError as exc:
            raise input_error(path, row.line, f"submitted_at: {exc}",
                              "export the times with their time zone, e.g. "
                              "2026-09-14T23:59:00-04:00 or 2026-09-15T03:59:00Z") from None
        if (student, lesson) in found:
            raise input_error(path, row.line, f"a second time for {student} "
                              f"({'every lesson' if lesson == ANY_LESSON else lesson})",
                              "keep the latest submission's row only")
        found[student, lesson] = at
    return found
