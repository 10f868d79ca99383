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
from loopgrader.batch.grade import BatchOptions, batch_limits, grade_batch, in_shard
from loopgrader.cli.batch import grade_command, merge_command
from loopgrader.course.catalog import load_course

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
    assert wide[0] == "student,lesson 1.1,total,integrity" and len(wide) == 7


def test_a_run_killed_with_sigkill_keeps_what_it_finished(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    for name in ("a_good", "b_wrong", "c_good", "d_wrong"):
        add_submission(subs, name, name.split("_")[1])
    write_file(subs, "e_slow", "import time\ntime.sleep(3)\n\ndef add(a, b):\n    return a + b"
               "\n\ndef scale(a, k):\n    return a * k\n")
    out = tmp_path / "out"
    script = ("import sys\nfrom loopgrader.cli.batch import grade_command\n"
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
                          BatchOptions(subs, out, isolation="limits",
                                       limits=batch_limits(timeout=10)))
    assert summary.graded == 5 - len(kept)
    assert sorted(rows(out)) == ["a_good", "b_wrong", "c_good", "d_wrong", "e_slow"]


def test_ctrl_c_stops_cleanly_keeps_what_it_finished_and_leaves_no_process(
        tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    for name in ("a_good", "b_wrong", "c_good"):
        add_submission(subs, name, name.split("_")[1])
    for name in ("d_slow", "e_slow", "f_slow"):
        write_file(subs, name, "import time\ntime.sleep(20)\n\ndef add(a, b):\n    return a + b\n")
    out = tmp_path / "out"
    script = ("import sys\nfrom loopgrader.cli.batch import grade_command\n"
              "grade_command(sys.argv[1:])\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(subs), "--out", str(out),
                             "--course", str(course), "--isolation", "limits", "--jobs", "2",
                             "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_finished(out)) < 3:
        time.sleep(0.05)
    time.sleep(1.0)  # both slots are now inside a slow student's import
    hosts = _hosts_of(proc.pid)
    assert len(hosts) == 2, hosts
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "interrupted: every submission graded so far is saved" in err and "Traceback" not in err
    assert sorted(_finished(out)) == ["a_good", "b_wrong", "c_good"]
    gone = time.monotonic() + 10
    while time.monotonic() < gone and any(Path(f"/proc/{pid}").exists() for pid in hosts):
        time.sleep(0.1)
    assert not [pid for pid in hosts if _alive(pid)], "grader hosts outlived the interrupted batch"
    db = sqlite3.connect(out / "gradebook.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    run = db.execute("SELECT finished_at FROM runs").fetchall()
    assert run == [(None,)]  # the interrupted run is recorded as unfinished


def _hosts_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == parent and b"loopgrader.sandbox.host" in cmdline:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


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


def test_a_resumed_run_grades_again_the_lessons_whose_graders_changed(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    add_submission(subs, "ann", "good")
    out = tmp_path / "out"
    code, text = grade(course, subs, out, "--isolation", "limits")
    assert code == 0 and "1 graded now" in text, text
    grader = next((course / "graders" / "1.1").glob("test_*.py"))
    grader.write_text(grader.read_text() + "\n# the instructor fixed a test\n")
    code, text = grade(course, subs, out, "--isolation", "limits")
    assert code == 0 and "1 graded now" in text and "0 already in the gradebook" in text, text
    db = sqlite3.connect(out / "gradebook.sqlite")
    graders = [g for (g,) in db.execute("SELECT graders FROM run_sources ORDER BY run_id")]
    assert len(graders) == 2 and graders[0] != graders[1]
    assert db.execute("SELECT run_id FROM pairs").fetchone() == (2,)
