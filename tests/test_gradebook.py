"""The gradebook: transactions, resume data, reading a student's progress (merging shards:
test_batch_merge.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopgrader.errors import UsageError
from loopgrader.records.gradebook import (
    FILE_NAME,
    PairRecord,
    load_gradebook_progress,
    open_gradebook,
)
from loopgrader.records.result import LessonResult, TestResult


def pair(student: str, lesson: str = "1.1", score: float = 2.0, *, status: str = "graded",
         graded_at: str = "2026-01-01T00:00:00+00:00", fingerprint: str = "f1") -> PairRecord:
    tests = (TestResult("adds", score, 2.0, score == 2.0, "visible",
                        None if score == 2.0 else "wrong",
                        category=None if score == 2.0 else "failed", node_id="t.py::test_add"),
             TestResult("hidden one", 0.0, 1.0, False, "hidden", "slow", "hint", "timeout",
                        "t.py::test_h"))
    return PairRecord(student, status, graded(lesson, score, 3.0, tests, "cpu", 1.5),
                      3.0, 5.0, "", fingerprint, "namespaces", graded_at)


def graded(lesson: str, score: float, max_score: float, tests: tuple[TestResult, ...] = (),
             device: str = "", duration_s: float = 0.0, **measured: Any) -> LessonResult:
    return LessonResult(lesson, "attempted", score, max_score, tests, device, duration_s,
                        **measured)


def test_pairs_round_trip_with_their_tests_and_are_replaced(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        book.record([pair("ann"), pair("bob", score=0.0)])
        book.record([pair("ann", score=0.0, fingerprint="f2")])  # regraded: replaced
        rows = book.pairs()
        assert [(p.student, p.score, p.fingerprint) for p in rows] == \
            [("ann", 3.0, "f2"), ("bob", 3.0, "f1")]
        assert rows[0].tests[1] == TestResult("hidden one", 0.0, 1.0, False, "hidden", "slow",
                                              "hint", "timeout", "t.py::test_h")
        assert book.fingerprints() == {("ann", "1.1"): "f2", ("bob", "1.1"): "f1"}
        assert [p.student for p in book.pairs("bob")] == ["bob"]
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("SELECT count(*) FROM tests").fetchone() == (4,)


def test_a_process_killed_mid_transaction_leaves_no_half_written_row(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        book.record([pair("ann")])
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from loopgrader.records import gradebook as g\n"
        "book = g.open_gradebook(Path(sys.argv[1]))\n"
        "db = book._db\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "exercise = g.LessonResult('1.1', 'passed', 1, 2)\n"
        "g._insert_pair(db, g.PairRecord('bob', 'graded', exercise), None)\n"
        "os._exit(9)  # killed before COMMIT\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    assert proc.returncode == 9
    with open_gradebook(tmp_path) as book:
        assert [p.student for p in book.pairs()] == ["ann"]
        assert len(book.pairs()[0].tests) == 2
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_students_results_read_as_progress(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        book.record([pair("ann"), pair("ann", "1.2", score=0.0, status="timed out")])
        book.record([PairRecord("ann", "not submitted", graded("1.5", 0.0, 4.0))])
        run = book.start_run("loopgrader grade subs --out x", "1/1", "namespaces")
        book.finish_run(run)
        assert book.runs()[0][3:] == ("loopgrader grade subs --out x", "1/1", "namespaces")
    progress = load_gradebook_progress(tmp_path, "ann")
    kinds = [(a.lesson, a.kind, a.status, a.score) for a in progress.attempts]
    assert kinds == [("1.1", "exercise", "attempted", 2.0), ("1.1", "quiz", "attempted", 3.0),
                     ("1.2", "exercise", "error", 0.0), ("1.2", "quiz", "attempted", 3.0)]
    assert progress.attempts[0].tests[0].status == "passed"
    with pytest.raises(UsageError, match="students in this gradebook: ann"):
        load_gradebook_progress(tmp_path, "zed")


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(UsageError, match="not a readable gradebook"):
        open_gradebook(tmp_path)


def test_timings_and_loss_curves_are_kept_and_reach_the_progress_report(tmp_path: Path) -> None:
    curves = {"fit converges": {"loss": {"student": [4.0, 1.0], "reference": [4.0, 0.5]}}}
    measured = PairRecord("ann", "graded", graded("1.1", 2.0, 2.0, timings={"fit": 1.25},
                                                    curves=curves))
    with open_gradebook(tmp_path) as book:
        book.record([measured])
        assert book.pairs("ann")[0].timings == {"fit": 1.25}
        assert book.pairs("ann")[0].curves == curves
    exercise = load_gradebook_progress(tmp_path, "ann").attempts[0]
    assert (exercise.timings, exercise.curves) == ({"fit": 1.25}, curves)


def test_a_diverging_loss_curve_is_stored_with_its_row(tmp_path: Path) -> None:
    nan, inf = float("nan"), float("inf")
    diverging = PairRecord("ann", "graded", graded(
        "1.2", 1.0, 8.0, timings={"fit": inf, "step": 1.5},
        curves={"test_fit": {"loss": [1.0, 10.0, inf, nan]}}))
    with open_gradebook(tmp_path) as book:
        book.record([diverging])
        stored = book.pairs()[0]
    assert stored.timings == {"step": 1.5}
    assert stored.curves == {"test_fit": {"loss": [1.0, 10.0, None, None]}}
