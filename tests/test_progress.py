"""Progress records: atomic, one file per attempt, damage reported and never fatal."""

from __future__ import annotations

import json
from pathlib import Path

from loopgrader.records.progress import (
    Attempt,
    load_progress,
    progress_dir,
    record_attempt,
    summarise,
)
from loopgrader.records.result import LessonResult, TestResult


def attempt(score: float, lesson: str = "1.2", started: str = "2026-01-01T00:00:00+00:00",
            status: str = "attempted") -> Attempt:
    return Attempt("exercise", LessonResult(lesson, status, score, 20.0,
                                            tests=(TestResult("t", score, 20.0, False),),
                                            timings={"train": 1.3}), started_at=started)


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    record_attempt(tmp_path, attempt(7.0))
    (loaded,) = load_progress(tmp_path).attempts
    assert loaded == attempt(7.0)


def test_attempts_are_sorted_and_summarised(tmp_path: Path) -> None:
    record_attempt(tmp_path, attempt(12.0, started="2026-01-02T00:00:00+00:00"))
    record_attempt(tmp_path, attempt(5.0, started="2026-01-03T00:00:00+00:00"))
    record_attempt(tmp_path, attempt(20.0, lesson="1.1", status="passed"))
    progress = load_progress(tmp_path)
    summary = summarise(progress.attempts, "1.2", "exercise")
    assert summary.attempts == 2
    assert summary.best is not None and summary.best.score == 12.0
    assert summary.latest is not None and summary.latest.score == 5.0
    assert summary.status == "attempted"
    assert summarise(progress.attempts, "1.1", "exercise").status == "passed"
    assert summarise(progress.attempts, "2.1", "exercise").status == "not started"


def test_damaged_and_partial_files_are_reported_not_fatal(tmp_path: Path) -> None:
    record_attempt(tmp_path, attempt(3.0))
    folder = progress_dir(tmp_path)
    (folder / "zz_broken.json").write_text("{not json")
    (folder / "zz_wrong.json").write_text(json.dumps({"lesson": "1.2"}))
    (folder / ".a.json.123.tmp").write_text("half a rec")  # a write killed midway
    progress = load_progress(tmp_path)
    assert [a.score for a in progress.attempts] == [3.0]
    assert len(progress.problems) == 2
    assert all("unreadable progress record" in p for p in progress.problems)


def test_a_new_attempt_never_touches_earlier_files(tmp_path: Path) -> None:
    first = record_attempt(tmp_path, attempt(1.0))
    before = first.read_bytes()
    record_attempt(tmp_path, attempt(2.0))
    assert first.read_bytes() == before
    assert not list(progress_dir(tmp_path).glob("*.tmp"))


def test_empty_history(tmp_path: Path) -> None:
    progress = load_progress(tmp_path)
    assert progress.attempts == () and progress.problems == ()


def test_atomic_writes_leave_the_mode_a_plain_write_would(tmp_path: Path) -> None:
    from loopgrader._fs import atomic_write_text

    fresh = tmp_path / "report.html"
    atomic_write_text(fresh, "<p>hi</p>")
    plain = tmp_path / "plain.html"
    plain.write_text("<p>hi</p>")
    assert fresh.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    plain.chmod(0o640)
    atomic_write_text(plain, "<p>again</p>")
    assert plain.stat().st_mode & 0o777 == 0o640 and plain.read_text() == "<p>again</p>"
