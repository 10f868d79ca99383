"""The gradebook: every (student, lesson) result of a batch, in SQLite under ``--out``.

This is the only module that knows the schema. Each submission's results are written in one
transaction (WAL journal, synchronous writes), so an interrupted run — Ctrl-C, ``kill -9``, a
power cut — keeps everything already committed and never leaves half a row. Shards are
combined by :mod:`loopgrader.batch.merge` (one SQL copy per shard, in a transaction).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loopgrader.errors import UsageError
from loopgrader.records.gradebook_runs import (
    RUNS_SCHEMA,
    RunInfo,
    RunSource,
    insert_source,
    read_run_infos,
)
from loopgrader.records.gradebook_term import (
    TERM_COLUMNS,
    TERM_SCHEMA,
    RunResult,
    insert_run_result,
    migrate_term,
    read_tests,
)
from loopgrader.records.pair import PairRecord, exercise_status
from loopgrader.records.progress import Attempt, Progress
from loopgrader.records.result import LessonResult, TestResult
from loopgrader.status import LessonStatus, PairStatus

__all__ = [
    "FILE_NAME",
    "Gradebook",
    "PairRecord",
    "RunInfo",
    "RunResult",
    "RunSource",
    "exercise_status",
    "load_gradebook_progress",
    "open_gradebook",
]

FILE_NAME = "gradebook.sqlite"
SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, command TEXT NOT NULL,
    shard TEXT NOT NULL, isolation TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    student TEXT NOT NULL, lesson TEXT NOT NULL, status TEXT NOT NULL,
    score REAL NOT NULL, max_score REAL NOT NULL,
    exercise_score REAL NOT NULL, exercise_max REAL NOT NULL,
    quiz_score REAL, quiz_max REAL NOT NULL, duration_s REAL NOT NULL, message TEXT NOT NULL,
    fingerprint TEXT NOT NULL, isolation TEXT NOT NULL, device TEXT NOT NULL,
    graded_at TEXT NOT NULL, measurements TEXT NOT NULL DEFAULT '{}', run_id INTEGER,
    integrity TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (student, lesson));
CREATE TABLE IF NOT EXISTS tests (
    student TEXT NOT NULL, lesson TEXT NOT NULL, position INTEGER NOT NULL,
    name TEXT NOT NULL, node_id TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    passed INTEGER NOT NULL, visibility TEXT NOT NULL, category TEXT, message TEXT, hint TEXT,
    PRIMARY KEY (student, lesson, position),
    FOREIGN KEY (student, lesson) REFERENCES pairs (student, lesson) ON DELETE CASCADE);
"""
PAIR_COLUMNS = ("student", "lesson", "status", "score", "max_score", "exercise_score",
                "exercise_max", "quiz_score", "quiz_max", "duration_s", "message", "fingerprint",
                "isolation", "device", "graded_at", "integrity")
# Columns added after schema 1 was first written: (name, declaration), added to old gradebooks.
ADDED_PAIR_COLUMNS = (("integrity", "TEXT NOT NULL DEFAULT ''"),)
# the columns that are the batch's own fields of a PairRecord (the rest are its exercise's)
PAIR_FIELDS = ("student", "status", "quiz_score", "quiz_max", "message", "fingerprint",
               "isolation", "graded_at", "integrity", *TERM_COLUMNS)
TEST_COLUMNS = ("name", "node_id", "score", "max_score", "passed", "visibility", "category",
                "message", "hint")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    """An open gradebook; write from one thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._transaction():
            for statement in filter(str.strip, (SCHEMA + TERM_SCHEMA + RUNS_SCHEMA).split(";")):
                self._db.execute(statement)
            migrate_term(self._db)
            _add_missing_columns(self._db)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise UsageError(f"{path}: gradebook schema {version}, this loopgrader reads "
                             f"{SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def start_run(self, command: str, shard: str, isolation: str,
                  source: RunSource | None = None) -> int:
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO runs (started_at, command, shard, isolation) "
                                "VALUES (?, ?, ?, ?)", (_now(), command, shard, isolation))
            run_id = int(cursor.lastrowid or 0)
            if source is not None:
                insert_source(db, run_id, source)
            return run_id

    def finish_run(self, run_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET finished_at=? WHERE id=?", (_now(), run_id))

    def record(self, pairs: Sequence[PairRecord], run_id: int | None = None) -> None:
        """Store ``pairs`` (replacing earlier results of the same pairs) in one transaction."""
        with self._transaction() as db:
            for pair in pairs:
                _insert_pair(db, pair, run_id)

    def fingerprints(self) -> dict[tuple[str, str], str]:
        """(student, lesson) → fingerprint of every pair already graded."""
        rows = self._db.execute("SELECT student, lesson, fingerprint FROM pairs")
        return {(s, lesson): f for s, lesson, f in rows}

    def pairs(self, student: str | None = None) -> list[PairRecord]:
        """Every stored pair (of one student if given), with its tests, sorted."""
        where, args = ("WHERE student=?", (student,)) if student is not None else ("", ())
        columns = (*PAIR_COLUMNS, *TERM_COLUMNS)
        rows = self._db.execute(f"SELECT {', '.join(columns)}, measurements FROM pairs "
                                f"{where} ORDER BY student, lesson", args).fetchall()
        tests = self._tests(student)
        return [_pair(dict(zip(columns, row[:-1], strict=True)),
                      tests.get((row[0], row[1]), ()), row[-1]) for row in rows]

    def _tests(self, student: str | None) -> dict[tuple[str, str], tuple[TestResult, ...]]:
        where, args = ("WHERE student=?", (student,)) if student is not None else ("", ())
        found: dict[tuple[str, str], list[TestResult]] = {}
        for row in self._db.execute(f"SELECT student, lesson, {', '.join(TEST_COLUMNS)} FROM "
                                    f"tests {where} ORDER BY student, lesson, position", args):
            test = dict(zip(TEST_COLUMNS, row[2:], strict=True))
            found.setdefault((row[0], row[1]), []).append(
                TestResult(**{**test, "passed": bool(test["passed"])}))
        return {key: tuple(value) for key, value in found.items()}

    def runs(self) -> list[tuple[int, str, str | None, str, str, str]]:
        return list(self._db.execute("SELECT id, started_at, finished_at, command, shard, "
                                     "isolation FROM runs ORDER BY id"))

    # --- issue 18: the term (lateness, releases, each run's results) ---
    def set_term(self, pairs: Sequence[PairRecord], run_id: int | None = None) -> None:
        """Store the term columns of ``pairs`` (their grading results are left alone), and the
        final scores into ``run_id``'s results, in one transaction."""
        with self._transaction() as db:
            for pair in pairs:
                db.execute(f"UPDATE pairs SET {', '.join(f'{c}=?' for c in TERM_COLUMNS)} "
                           "WHERE student=? AND lesson=?",
                           (*(getattr(pair, c) for c in TERM_COLUMNS), pair.student, pair.lesson))
                if run_id is not None:
                    insert_run_result(db, run_id, pair)

    def release(self, lessons: Sequence[str], when: str | None = None) -> None:
        """Release hidden feedback of ``lessons`` (from ``when``, default now)."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO releases VALUES (?, ?)",
                           [(lesson, when or _now()) for lesson in lessons])

    def releases(self) -> dict[str, str]:
        """Lesson → when its hidden feedback was released by hand."""
        return dict(self._db.execute("SELECT lesson, released_at FROM releases"))

    def results_as_of(self, run_id: int) -> dict[tuple[str, str], RunResult]:
        """Each pair's latest recorded result at or before ``run_id``."""
        rows = self._db.execute(
            "SELECT r.student, r.lesson, r.run_id, r.status, r.score, r.final_score, r.tests "
            "FROM run_results r JOIN (SELECT student, lesson, MAX(run_id) AS last FROM "
            "run_results WHERE run_id <= ? GROUP BY student, lesson) m ON r.student = m.student "
            "AND r.lesson = m.lesson AND r.run_id = m.last", (run_id,))
        return {(student, lesson): RunResult(run, status, score,
                                             score if final is None else final, read_tests(tests))
                for student, lesson, run, status, score, final, tests in rows}

    def run_infos(self) -> list[RunInfo]:
        """Every run, oldest first, with where it came from."""
        return read_run_infos(self._db)

    def pair_runs(self) -> dict[tuple[str, str], int | None]:
        """(student, lesson) → the run that graded the pair (None: not recorded)."""
        return {(s, lesson): run for s, lesson, run in
                self._db.execute("SELECT student, lesson, run_id FROM pairs")}

    def graded_with(self) -> dict[tuple[str, str], str | None]:
        """(student, lesson) → fingerprint of the graders that graded the pair (None: unknown,
        from a gradebook made before graders were recorded)."""
        graders = {run.id: run.source.graders for run in self.run_infos() if run.source}
        return {key: graders.get(run, {}).get(key[1]) if run is not None else None
                for key, run in self.pair_runs().items()}

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (ATTACH, DETACH, PRAGMA); for merging."""
        return list(self._db.execute(sql, args))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the underlying connection (committed whole or not at
        all); for merging."""
        with self._transaction() as db:
            yield db


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Additive migration: a gradebook written before a column existed gets it, empty."""
    present = {row[1] for row in db.execute("PRAGMA table_info(pairs)")}
    for name, declaration in ADDED_PAIR_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE pairs ADD COLUMN {name} {declaration}")


def _insert_pair(db: sqlite3.Connection, pair: PairRecord, run_id: int | None) -> None:
    db.execute("DELETE FROM pairs WHERE student=? AND lesson=?", (pair.student, pair.lesson))
    columns = (*PAIR_COLUMNS, *TERM_COLUMNS)
    values = [getattr(pair, name) for name in columns]
    values[columns.index("graded_at")] = pair.graded_at or _now()
    measurements = json.dumps({"timings": {k: v for k, v in pair.timings.items()
                                           if _finite(v) is not None},
                               "curves": _finite(pair.curves)}, allow_nan=False)
    db.execute(f"INSERT INTO pairs ({', '.join(columns)}, measurements, run_id) VALUES "
               f"({', '.join('?' * (len(columns) + 2))})", (*values, measurements, run_id))
    if run_id is not None:
        insert_run_result(db, run_id, pair)
    db.executemany(
        f"INSERT INTO tests (student, lesson, position, {', '.join(TEST_COLUMNS)}) VALUES "
        f"({', '.join('?' * (len(TEST_COLUMNS) + 3))})",
        [(pair.student, pair.lesson, i, *(getattr(t, c) for c in TEST_COLUMNS))
         for i, t in enumerate(pair.tests)])


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (a diverging student's loss) made None, so the
    gradebook keeps standard JSON and the row is stored."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _pair(row: dict[str, Any], tests: tuple[TestResult, ...], measurements: str) -> PairRecord:
    """A ``pairs`` row (by column) and its tests back as a record."""
    status = str(row["status"])
    exercise = LessonResult(
        lesson=row["lesson"], status=exercise_status(status, row["exercise_score"],
                                                    row["exercise_max"]),
        score=row["exercise_score"], max_score=row["exercise_max"], tests=tests,
        device=row["device"], duration_s=row["duration_s"], **_measurements(measurements))
    batch = {k: v for k, v in row.items() if k in PAIR_FIELDS}
    return PairRecord(exercise=exercise, **batch)


def _measurements(text: str) -> dict[str, Any]:
    """The timings and curves column back as the record's fields (empty if unreadable)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    timings = data.get("timings")
    curves = data.get("curves")
    return {"timings": timings if isinstance(timings, dict) else {},
            "curves": curves if isinstance(curves, dict) else {}}


def open_gradebook(folder: Path, *, create: bool = True) -> Gradebook:
    """The gradebook in ``folder`` (created with the folder when ``create``)."""
    path = folder / FILE_NAME
    if not create and not path.is_file():
        raise UsageError(f"{folder}: no gradebook here ({FILE_NAME} is missing)",
                         hint="point at the --out folder of a `loopgrader grade` run")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return Gradebook(path)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a readable gradebook ({exc})") from None


def load_gradebook_progress(gradebook_dir: Path, student: str,
                            view: Callable[[PairRecord], PairRecord] | None = None) -> Progress:
    """One student's results in a gradebook, as the progress report reads attempts (each pair
    first passed through ``view``: what the student may see now)."""
    with open_gradebook(gradebook_dir, create=False) as book:
        pairs = [view(p) if view else p for p in book.pairs(student)]
    if not pairs:
        known = sorted({p.student for p in _all_pairs(gradebook_dir)})
        raise UsageError(f"{gradebook_dir}: no results for student {student!r}",
                         hint=f"students in this gradebook: {', '.join(known[:20]) or 'none'}")
    attempts: list[Attempt] = []
    for pair in pairs:
        attempts += _attempts(pair)
    return Progress(tuple(attempts))


def _all_pairs(gradebook_dir: Path) -> list[PairRecord]:
    with open_gradebook(gradebook_dir, create=False) as book:
        return book.pairs()


def _attempts(pair: PairRecord) -> list[Attempt]:
    found: list[Attempt] = []
    if pair.status != PairStatus.NOT_SUBMITTED and pair.exercise_max > 0:
        status = exercise_status(pair.status, pair.exercise_score, pair.exercise_max)
        found.append(Attempt("exercise", replace(pair.exercise, status=status), pair.graded_at))
    if pair.quiz_score is not None:
        passed = pair.quiz_score >= pair.quiz_max
        found.append(Attempt("quiz", LessonResult(
            pair.lesson, LessonStatus.PASSED if passed else LessonStatus.ATTEMPTED,
            pair.quiz_score, pair.quiz_max), pair.graded_at))
    return found
