"""Where each run of a gradebook came from (issue 21), kept apart from the core schema.

Additive: the table ``run_sources`` holds, per run, the scheduler that started it (``slurm``,
``kubernetes``, ``github-actions``, ``environment`` or ``none``), the scheduler's name for the
task, the host, a fingerprint of every graded lesson's graders, and a token naming the run
across gradebooks (a merge copies each run once). A gradebook written before the table existed
gains it, empty, when opened: its runs read as having no recorded source.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RUNS_SCHEMA", "SOURCE_COLUMNS", "RunInfo", "RunSource", "insert_source",
           "read_run_infos"]

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_sources (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE, scheduler TEXT NOT NULL, job TEXT NOT NULL, host TEXT NOT NULL,
    graders TEXT NOT NULL);
"""
SOURCE_COLUMNS = ("token", "scheduler", "job", "host", "graders")


@dataclass(frozen=True)
class RunSource:
    """Where a run came from: the scheduler and its task, the machine, and the fingerprint of
    each lesson's graders (``graders``: lesson id → fingerprint). ``token`` names the run
    across gradebooks (a merge copies each run once)."""

    scheduler: str = "none"
    job: str = ""
    host: str = ""
    graders: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class RunInfo:
    """One run of a gradebook, with its source (None: made before runs recorded one)."""

    id: int
    started_at: str
    finished_at: str | None
    command: str
    shard: str
    isolation: str
    source: RunSource | None


def insert_source(db: sqlite3.Connection, run_id: int, source: RunSource) -> None:
    db.execute(f"INSERT INTO run_sources (run_id, {', '.join(SOURCE_COLUMNS)}) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (run_id, source.token, source.scheduler, source.job, source.host,
                json.dumps(source.graders, sort_keys=True)))


def read_run_infos(db: sqlite3.Connection) -> list[RunInfo]:
    """Every run, oldest first, with where it came from."""
    rows = db.execute(
        f"SELECT id, started_at, finished_at, command, shard, isolation, "
        f"{', '.join('s.' + c for c in SOURCE_COLUMNS)} FROM runs LEFT JOIN run_sources s "
        "ON s.run_id = runs.id ORDER BY id")
    return [RunInfo(row[0], row[1], row[2], row[3], row[4], row[5], _source(row[6:]))
            for row in rows]


def _source(row: Sequence[Any]) -> RunSource | None:
    token, scheduler, job, host, graders = row
    if token is None:
        return None
    try:
        parsed = json.loads(graders)
    except ValueError:
        parsed = {}
    return RunSource(scheduler, job, host, parsed if isinstance(parsed, dict) else {}, token)
