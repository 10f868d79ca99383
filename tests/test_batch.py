"""``loopgrader grade`` and ``merge`` end to end: resume, --force, shards and merge, and a run
killed with ``kill -9`` in the middle (the gradebook keeps every finished row, whole)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_harness import add_submission, make_course, rows, write_file
from loopgrader.batch import BatchOptions, grade_batch, in_shard
from loopgrader.batch_cli import grade_command, merge_command
from loopgrader.catalog import load_course

pytestmark = pytest.mark.slow


def grade(course: Path, subs: Path, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(grade_command, [str(subs), "--out", str(out), "--course",
                                                str(course), "--timeout", "10", *args])
    return result.exit_code, result.output + (str(result.exception) if result.exit_code else "")


def test_a_second_run_resumes_and_force_or_a_new_file_regrades(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    add_submission(subs, "ann", "good")
    add_submission(subs, "bob", "wrong")
    out = tmp_path / "out"
    code, text = grade(course, subs, out, "--isolation", "limits")
    assert code == 0, text
    assert "2 graded now (2 graded)" in text and "isolation: limits" in text
    first = rows(out)
    assert (first["ann"]["exercise_score"], first["bob"]["exercise_score"]) == (4.0, 1.0)
    assert {r["isolation"] for r in first.values()} == {"limits"}

    code, text = grade(course, subs, out, "--isolation", "limits")
    assert code == 0 and "0 graded now" in text and "2 already in the gradebook" in text

    write_file(subs, "bob", "def add(a, b):\n    return a + b\n\ndef scale(a, k):\n"
               "    return a * k\n")
    code, text = grade(course, subs, out, "--isolation", "limits")
    assert code == 0 and "1 graded now" in text
    assert rows(out)["bob"]["exercise_score"] == 4.0

    code, text = grade(course, subs, out, "--isolation", "limits", "--force")
    assert code == 0 and "2 graded now" in text
    runs = sqlite3.connect(out / "gradebook.sqlite").execute(
        "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL").fetchone()
    assert runs == (4,)


def test_shards_split_the_class_and_merge_puts_it_back(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    names = [f"student{i}" for i in range(6)]
    for i, name in enumerate(names):
        add_submission(subs, name, "good" if i % 2 else "wrong")
    shards = [[n for n in names if in_shard(n, (k, 2))] for k in (1, 2)]
    assert sorted(shards[0] + shards[1]) == names and shards[0] and shards[1]
    for k in (1, 2):
        code, text = grade(course, subs, tmp_path / f"shard{k}", "--shard", f"{k}/2")
        assert code == 0, text
        assert sorted(rows(tmp_path / f"shard{k}")) == sorted(shards[k - 1])
    result = CliRunner().invoke(merge_command, [str(tmp_path / "shard1"), str(tmp_path / "shard2"),
                                                "--out", str(tmp_path / "all"), "--course",
                                                str(course)])
    assert result.exit_code == 0, result.output
    merged = rows(tmp_path / "all")
    assert sorted(merged) == names
    assert [merged[n]["exercise_score"] for n in names] == [1.0, 4.0] * 3
    wide = (tmp_path / "all" / "grades_wide.csv").read_text().splitlines()
    assert wide[0] == "student,lesson 1.1,total" and len(wide) == 7


def test_a_run_killed_with_sigkill_keeps_what_it_finished(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    for name in ("a_good", "b_wrong", "c_good", "d_wrong"):
        add_submission(subs, name, name.split("_")[1])
    write_file(subs, "e_slow", "import time\ntime.sleep(3)\n\ndef add(a, b):\n    return a + b"
               "\n\ndef scale(a, k):\n    return a * k\n")
    out = tmp_path / "out"
    script = ("import sys\nfrom loopgrader.batch_cli import grade_command\n"
              "grade_command(sys.argv[1:])\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(subs), "--out", str(out),
                             "--course", str(course), "--isolation", "limits"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_finished(out)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _finished(out)
    assert 2 <= len(kept) < 5, kept
    db = sqlite3.connect(out / "gradebook.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for student, in db.execute("SELECT student FROM pairs"):  # every row whole, with its tests
        assert db.execute("SELECT count(*) FROM tests WHERE student=?", (student,)).fetchone() \
            == (3,)
    summary = grade_batch(load_course(course),
                          BatchOptions(subs, out, isolation="limits", timeout=10))
    assert summary.graded == 5 - len(kept)
    assert sorted(rows(out)) == ["a_good", "b_wrong", "c_good", "d_wrong", "e_slow"]


def _finished(out: Path) -> list[str]:
    try:
        db = sqlite3.connect(f"file:{out / 'gradebook.sqlite'}?mode=ro", uri=True, timeout=1)
        return [s for (s,) in db.execute("SELECT student FROM pairs")]
    except sqlite3.Error:
        return []


def test_usage_errors_are_reported_without_a_traceback(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    (tmp_path / "subs").mkdir()
    code, text = grade(course, tmp_path / "subs", tmp_path / "out", "--shard", "3/2")
    assert code == 2 and "K must be between 1 and N" in text
    code, text = grade(course, tmp_path / "subs", tmp_path / "out", "--lessons", "1.2")
    assert code == 2 and "not built yet" in text
    code, text = grade(course, tmp_path / "nowhere", tmp_path / "out")
    assert code == 2 and "not a folder of submissions" in text
