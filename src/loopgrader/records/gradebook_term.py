"""The gradebook's term columns and tables (issue 18), kept apart from the core schema.

Additive: ``pairs`` gains the submission time, its source, the student's due date, days late,
the penalty and the final score; ``run_results`` keeps each run's result of each pair it graded
(to explain regrades); ``releases`` keeps hidden feedback released by hand. A gradebook written
before these existed gains them when opened (:func:`migrate_term`); its rows read as "no
calendar" (final score = score).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from loopgrader.records.pair import PairRecord

__all__ = ["TERM_COLUMNS", "TERM_SCHEMA", "RunResult", "insert_run_result", "migrate_term",
           "read_tests"]

TERM_COLUMNS = ("submitted_at", "submitted_source", "due_at", "days_late", "penalty",
                "final_score")
TERM_COLUMN_TYPES = {"submitted_at": "TEXT NOT NULL DEFAULT ''",
                     "submitted_source": "TEXT NOT NULL DEFAULT ''",
                     "due_at": "TEXT NOT NULL DEFAULT ''",
                     "days_late": "INTEGER NOT NULL DEFAULT 0",
                     "penalty": "REAL NOT NULL DEFAULT 0", "final_score": "REAL"}
TERM_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_results (
    run_id INTEGER NOT NULL, student TEXT NOT NULL, lesson TEXT NOT NULL, status TEXT NOT NULL,
    score REAL NOT NULL, final_score REAL, tests TEXT NOT NULL,
    PRIMARY KEY (run_id, student, lesson));
CREATE TABLE IF NOT EXISTS releases (lesson TEXT PRIMARY KEY, released_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class RunResult:
    """A pair's result as one run recorded it (for explaining regrades)."""

    run_id: int
    status: str
    score: float
    final: float
    tests: dict[str, bool]  # test (node id) → passed


def insert_run_result(db: sqlite3.Connection, run_id: int, pair: PairRecord) -> None:
    tests = json.dumps({t.node_id or t.name: t.passed for t in pair.tests}, sort_keys=True)
    db.execute("INSERT OR REPLACE INTO run_results VALUES (?, ?, ?, ?, ?, ?, ?)",
               (run_id, pair.student, pair.lesson, pair.status, pair.score, pair.final_score,
                tests))


def read_tests(text: str) -> dict[str, bool]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return {str(k): bool(v) for k, v in data.items()} if isinstance(data, dict) else {}


def migrate_term(db: sqlite3.Connection) -> None:
    """Add the term columns to a gradebook written before they existed."""
    present = {row[1] for row in db.execute("PRAGMA table_info(pairs)")}
    for column in TERM_COLUMNS:
        if column not in present:
            db.execute(f"ALTER TABLE pairs ADD COLUMN {column} {TERM_COLUMN_TYPES[column]}")
