"""The instructor's term files: roster, extensions, submission manifest and times."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from loopgrader.batch.extensions import load_extensions
from loopgrader.batch.roster import load_roster, match_roster
from loopgrader.batch.submitted import SubmissionClock, git_time, load_manifest
from loopgrader.course.calendar import Calendar
from loopgrader.errors import EXIT_USAGE, UsageError

UTC = timezone.utc
DUE = datetime(2026, 9, 15, 3, 59, tzinfo=UTC)
LESSONS = {"1.2", "2.3"}


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _refused(path: Path, loader: object, *words: str, **kwargs: object) -> str:
    with pytest.raises(UsageError) as caught:
        loader(path, **kwargs)  # type: ignore[operator]
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
    assert str(path) in message and "nothing was graded or changed" in message
    for word in words:
        assert word in message, message
    return message


def test_roster_reads_identities_and_lists_both_kinds_of_mismatch(tmp_path: Path) -> None:
    path = _csv(tmp_path, "roster.csv", "\ufeffStudent,First Name,Last Name,Email,LMS ID,SIS ID,"
                "Section\nann,Ann,Lee,ann@x.edu,11,S1,A\nbob,Bob,Ray,bob@x.edu,12,S2,B\n"
                "cy,Cy,Ng,cy@x.edu,13,S3,A\n")
    roster = load_roster(path)
    assert roster.people["ann"].sortable_name == "Lee, Ann"
    assert roster.people["bob"].lms_id == "12" and roster.people["cy"].section == "A"
    match = match_roster(roster, ["ann", "bob", "zed"])
    assert match.without_roster == ("zed",)
    assert [p.student for p in match.without_submission] == ["cy"]
    assert "zed" in match.lines()[0] and "cy (Cy Ng)" in match.lines()[1]


@pytest.mark.parametrize(("text", "words"), [
    ("student,email,lms_id\nann,a@x,1\nbob,b@x,1\n", ("line 3", "lms_id '1' is on line 2")),
    ("student,email\nann,A@x.edu\nbob,a@X.EDU\n", ("line 3", "email")),
    ("student,email\nann,a@x\nann,b@x\n", ("line 3", "student 'ann'")),
    ("student,email\n,a@x\n", ("line 2", "student cell is empty")),
    ("name,email\nAnn,a@x\n", ("line 1", "lacks the column(s) student")),
], ids=["duplicate-id", "duplicate-email", "duplicate-student", "empty", "no-student-column"])
def test_roster_refuses_duplicates_and_gaps(tmp_path: Path, text: str,
                                            words: tuple[str, ...]) -> None:
    _refused(_csv(tmp_path, "roster.csv", text), load_roster, *words)


def test_extensions_move_due_dates(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ext.csv", "student,lesson,due,extra_days\n"
                "ann,1.2,2026-09-20T12:00:00Z,\nbob,all,,2\nbob,2.3,,0.5\n")
    extensions = load_extensions(path, students={"ann", "bob", "cy"}, lessons=LESSONS)
    calendar = Calendar(due={"1.2": DUE, "2.3": DUE})
    assert extensions.due(calendar, "ann", "1.2") == datetime(2026, 9, 20, 12, tzinfo=UTC)
    assert extensions.due(calendar, "ann", "2.3") == DUE
    assert extensions.due(calendar, "bob", "1.2") == DUE + timedelta(days=2)
    assert extensions.due(calendar, "bob", "2.3") == DUE + timedelta(hours=12)
    assert extensions.due(calendar, "cy", "1.2") == DUE
    assert extensions.extended("bob", "1.2") and not extensions.extended("cy", "1.2")


@pytest.mark.parametrize(("text", "words"), [
    ("student,lesson,due\nann,1.2,2026-09-20T12:00:00Z\nzed,1.2,2026-09-20T12:00:00Z\n",
     ("line 3", "unknown student 'zed'")),
    ("student,lesson,due\nann,9.9,2026-09-20T12:00:00Z\n", ("line 2", "unknown lesson '9.9'")),
    ("student,lesson,due\nann,1.2,20/09/2026\n", ("line 2", "not an ISO 8601", "2026-09-14T")),
    ("student,lesson,due\nann,1.2,2026-09-20T12:00:00\n", ("line 2", "no time zone")),
    ("student,lesson,due,extra_days\nann,1.2,2026-09-20T12:00:00Z,2\n", ("line 2", "both")),
    ("student,lesson,extra_days\nann,1.2,two\n", ("line 2", "positive number")),
    ("student,lesson,extra_days\nann,1.2,1\nann,1.2,2\n", ("line 3", "second extension")),
    ("student,lesson\nann,1.2\n", ("line 1", "due or extra_days")),
], ids=["student", "lesson", "date", "naive", "both", "days", "twice", "columns"])
def test_extensions_refuse_bad_rows(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    _refused(_csv(tmp_path, "ext.csv", text), load_extensions, *words,
             students={"ann", "bob"}, lessons=LESSONS)


def test_manifest_times_per_student_or_lesson(tmp_path: Path) -> None:
    path = _csv(tmp_path, "m.csv", "student,submitted_at,lesson\n"
                "ann,2026-09-15T01:00:00-04:00,\nann,2026-09-16T00:00:00Z,2.3\n")
    clock = SubmissionClock("manifest", load_manifest(path, lessons=LESSONS))
    folder = tmp_path / "ann"
    folder.mkdir()
    assert clock.submitted("ann", "1.2", folder, None).at == datetime(2026, 9, 15, 5, tzinfo=UTC)
    assert clock.submitted("ann", "2.3", folder, None).at == datetime(2026, 9, 16, tzinfo=UTC)
    missing = clock.submitted("bob", "1.2", folder, None)
    assert missing.source == "file"  # not in the manifest: the last resort, and it says so


@pytest.mark.parametrize(("text", "words"), [
    ("student,submitted_at\nann,yesterday\n", ("line 2", "submitted_at", "time zone")),
    ("student,submitted_at\nann,2026-09-15T01:00:00\n", ("line 2", "no time zone")),
    ("student,submitted_at,lesson\nann,2026-09-15T01:00:00Z,7.7\n", ("line 2", "unknown lesson")),
    ("student,submitted_at\nann,2026-09-15T01:00:00Z\nann,2026-09-15T02:00:00Z\n",
     ("line 3", "second time")),
    ("student,when\nann,2026-09-15T01:00:00Z\n", ("line 1", "submitted_at")),
], ids=["words", "naive", "lesson", "twice", "columns"])
def test_manifest_refuses_unparseable_times(tmp_path: Path, text: str,
                                            words: tuple[str, ...]) -> None:
    _refused(_csv(tmp_path, "m.csv", text), load_manifest, *words, lessons=LESSONS)


def test_file_time_is_the_archive_or_the_lesson_file(tmp_path: Path) -> None:
    archive = tmp_path / "bob.zip"
    archive.write_bytes(b"PK")
    os.utime(archive, (1_800_000_000, 1_800_000_000))
    clock = SubmissionClock("file")
    found = clock.submitted("bob", "1.2", archive, None)
    assert (found.at, found.source) == (datetime.fromtimestamp(1_800_000_000, UTC), "file")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_time_is_the_last_commit_touching_the_lesson_file(tmp_path: Path) -> None:
    repo = tmp_path / "ann"
    (repo / "1.2").mkdir(parents=True)
    lesson_file = repo / "1.2" / "linear_regression.py"
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}

    def commit(path: Path, when: str) -> None:
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", path.name], check=True,
                       env={**env, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when})

    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    lesson_file.write_text("x = 1\n")
    commit(lesson_file, "2026-09-14T20:00:00+00:00")
    (repo / "notes.txt").write_text("later, unrelated\n")
    commit(repo / "notes.txt", "2026-09-20T20:00:00+00:00")
    assert git_time(repo, lesson_file) == datetime(2026, 9, 14, 20, tzinfo=UTC)
    found = SubmissionClock("git").submitted("ann", "1.2", repo, lesson_file)
    assert (found.at, found.source) == (datetime(2026, 9, 14, 20, tzinfo=UTC), "git")
    untracked = repo / "2.3" / "neural_net.py"
    untracked.parent.mkdir()
    untracked.write_text("y = 2\n")
    assert SubmissionClock("git").submitted("ann", "2.3", repo, untracked).source == "file"
