"""The gradebook's term columns: old gradebooks gain them, regrades are explained from runs."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from loopgrader.records.gradebook import SCHEMA, PairRecord, open_gradebook
from loopgrader.records.regrades import compare_runs, latest_runs, regrades_csv
from loopgrader.records.result import LessonResult, TestResult


def _pair(student: str, score: float, passed: tuple[bool, bool]) -> PairRecord:
    tests = (TestResult("adds", 2.0 * passed[0], 2.0, passed[0], node_id="t::add"),
             TestResult("twice", 1.0 * passed[1], 1.0, passed[1], "hidden", node_id="t::twice"))
    return PairRecord(student, "graded", LessonResult("1.1", "attempted", score, 3.0, tests))


def test_an_old_gradebook_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "gradebook.sqlite")) as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema', '1')")
        db.execute("INSERT INTO pairs (student, lesson, status, score, max_score, exercise_score,"
                   " exercise_max, quiz_score, quiz_max, duration_s, message, fingerprint, "
                   "isolation, device, graded_at) VALUES ('ann', '1.1', 'graded', 2, 3, 2, 3, "
                   "NULL, 0, 1.0, '', 'f', 'limits', 'cpu', '2026-01-01T00:00:00+00:00')")
        db.commit()
    with open_gradebook(tmp_path) as book:
        (ann,) = book.pairs()
        assert (ann.score, ann.final_score, ann.final, ann.days_late) == (2, None, 2, 0)
        book.record([_pair("bob", 3.0, (True, True))], run_id=None)
    with open_gradebook(tmp_path) as book:  # a second opening migrates nothing again
        assert [p.student for p in book.pairs()] == ["ann", "bob"]


def test_regrades_list_exactly_the_changed_pairs_and_the_flipped_tests(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        first = book.start_run("grade", "1/1", "limits")
        book.record([_pair("ann", 3.0, (True, True)), _pair("bob", 2.0, (True, False)),
                     _pair("cy", 0.0, (False, False))], first)
        second = book.start_run("grade --force", "1/1", "limits")
        book.record([_pair("ann", 3.0, (True, True)), _pair("bob", 3.0, (True, True)),
                     _pair("cy", 1.0, (False, True))], second)
        assert latest_runs(book) == (first, second)
        changes = compare_runs(book, first, second)
    assert [(c.student, c.delta, c.now_passing, c.now_failing) for c in changes] == [
        ("bob", 1.0, ("t::twice",), ()), ("cy", 1.0, ("t::twice",), ())]
    assert changes[0].describe() == "bob 1.1: 2 -> 3 (+1); now passing: t::twice"
    assert regrades_csv(changes).splitlines()[1] == "bob,1.1,2,3,+1,+1,t::twice,"
