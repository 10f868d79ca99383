"""``loopgrader merge``: combine the gradebooks of shards into one, only when they fit together.

Before anything is written, the shards are checked: every shard of the split is there once
(``shard 3 of 4 has no gradebook``), none overlaps another, each finished its last run, each
student belongs to the shard that graded it, and every pair was graded with the course's
graders as they are now (each run records a fingerprint per lesson). Any problem refuses the
whole merge with a message naming the folders.

The merge itself works on a copy of ``--out``'s gradebook (SQLite's backup), copies each shard
in one transaction (runs once each, by their token, then pairs with every column both
gradebooks have, tests, each run's results and released feedback), and only then
replaces the old gradebook by a rename: stopped at any point, ``--out`` is as it was. Pairs
already in ``--out`` that no shard holds are kept.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from loopgrader.batch.grade import in_shard, lock_out
from loopgrader.batch.provenance import graders_fingerprints
from loopgrader.course.catalog import Course
from loopgrader.errors import UsageError
from loopgrader.records.gradebook import FILE_NAME, Gradebook, RunInfo, open_gradebook

__all__ = ["MergeSummary", "merge_gradebooks"]


@dataclass
class MergeSummary:
    """What a merge did."""

    shards: int = 0  # N of the split
    sources: int = 0
    pairs: int = 0  # pairs copied from the shards
    runs: int = 0  # runs copied (a run already in --out is not copied again)
    students: int = 0  # students in the merged gradebook


@dataclass
class _Shard:
    folder: Path
    runs: list[RunInfo]
    pairs: dict[tuple[str, str], int | None]
    split: set[tuple[int, int]] = field(default_factory=set)  # (K, N) of its runs


def merge_gradebooks(course: Course, target: Path, sources: Sequence[Path]) -> MergeSummary:
    """Check that ``sources`` (``--out`` folders of ``grade``) are the whole split, graded with
    the course's graders, then copy them into ``target``'s gradebook."""
    folders = _distinct(target, sources)
    shards = [_read(folder) for folder in folders]
    _check_graders(course, shards)
    count = _check_split(shards)
    summary = MergeSummary(shards=count, sources=len(shards))
    with lock_out(target):
        work = target / (FILE_NAME + ".merging")
        for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
            leftover.unlink(missing_ok=True)
        _start_from_target(target, work)
        with closing(Gradebook(work)) as book:
            for shard in shards:
                _copy(book, shard, summary)
            summary.students = book.execute("SELECT count(DISTINCT student) FROM pairs")[0][0]
        os.replace(work, target / FILE_NAME)
        _fsync_dir(target)
    return summary


def _distinct(target: Path, sources: Sequence[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for source in sources:
        resolved = source.resolve()
        if resolved in seen:
            raise UsageError(f"merge: {source} is given twice",
                             hint="give each shard's --out folder once")
        seen[resolved] = source
    if target.resolve() in seen:
        raise UsageError(f"merge: --out {target} is also one of the shards",
                         hint="merge into a new folder")
    return list(seen)


def _read(folder: Path) -> _Shard:
    with open_gradebook(folder, create=False) as book:
        shard = _Shard(folder, book.run_infos(), book.pair_runs())
    for run in shard.runs:
        try:
            k, n = (int(part) for part in run.shard.split("/"))
        except ValueError:
            raise UsageError(f"{folder}: run {run.id} has an unreadable shard {run.shard!r}") \
                from None
        shard.split.add((k, n))
    return shard


def _check_graders(course: Course, shards: list[_Shard]) -> None:
    current = graders_fingerprints(course)
    unknown: list[str] = []
    differing: list[str] = []
    for shard in shards:
        graders = {run.id: run.source.graders for run in shard.runs if run.source is not None}
        lessons: set[str] = set()
        unrecorded = False
        for (_, lesson), run in shard.pairs.items():
            if run is None or run not in graders:
                unrecorded = True
            elif graders[run].get(lesson) != current.get(lesson):
                lessons.add(lesson)
        if unrecorded:
            unknown.append(str(shard.folder))
        if lessons:
            differing.append(f"{shard.folder} (lesson {', '.join(sorted(lessons))})")
    if differing:
        raise UsageError(f"merge refused: gradebooks made with other graders than the course's "
                         f"in {course.root}: {'; '.join(differing)}",
                         hint="grade those shards again with --force, or merge with --course "
                         "set to the course they were graded with")
    if unknown:
        raise UsageError(f"merge refused: {', '.join(unknown)} holds results whose graders "
                         "were not recorded (made by an older loopgrader)",
                         hint="grade those shards again with --force so that every result "
                         "records the graders it was graded with")


def _check_split(shards: list[_Shard]) -> int:
    empty = [str(shard.folder) for shard in shards if not shard.split]
    if empty:
        raise UsageError(f"merge refused: {', '.join(empty)} records no run of "
                         "`loopgrader grade`", hint="give the --out folders of grade runs")
    counts = {n for shard in shards for _, n in shard.split}
    if len(counts) > 1:
        splits = "; ".join(f"{s.folder}: {', '.join(f'{k}/{n}' for k, n in sorted(s.split))}"
                           for s in shards)
        raise UsageError(f"merge refused: the gradebooks come from different splits ({splits})",
                         hint="merge the shards of one split (the same N in --shard K/N)")
    count = counts.pop()
    owner: dict[int, Path] = {}
    for shard in shards:
        for k, _ in sorted(shard.split):
            if k in owner:
                raise UsageError(f"merge refused: overlapping shards: shard {k} of {count} is "
                                 f"in both {owner[k]} and {shard.folder}",
                                 hint="give each shard's gradebook once")
            owner[k] = shard.folder
        _check_finished(shard)
        _check_students(shard, count)
    missing = [k for k in range(1, count + 1) if k not in owner]
    if missing:
        names = ", ".join(str(s.folder) for s in shards)
        which = (f"shard {missing[0]} of {count} has no gradebook" if len(missing) == 1 else
                 f"shards {', '.join(map(str, missing))} of {count} have no gradebook")
        raise UsageError(f"merge refused: {which} (merging {names})",
                         hint="grade the missing shards (--shard K/N) and merge every shard's "
                         "--out folder")
    return count


def _check_finished(shard: _Shard) -> None:
    latest: dict[str, RunInfo] = {}
    for run in shard.runs:
        latest[run.shard] = run
    for text, run in sorted(latest.items()):
        if run.finished_at is None:
            raise UsageError(f"merge refused: {shard.folder}: shard {text.replace('/', ' of ')} "
                             f"did not finish (its last run started at {run.started_at} and "
                             "never ended)", hint="run the same `loopgrader grade` command "
                             "again to finish it (graded students are kept), then merge")


def _check_students(shard: _Shard, count: int) -> None:
    ks = [k for k, _ in shard.split]
    for student in sorted({student for student, _ in shard.pairs}):
        if not any(in_shard(student, (k, count)) for k in ks):
            raise UsageError(f"merge refused: {shard.folder} holds student {student!r}, who "
                             f"belongs to none of its shards ({', '.join(map(str, ks))} of "
                             f"{count})", hint="this gradebook was graded with another split; "
                             "grade it again into a new folder")


def _start_from_target(target: Path, work: Path) -> None:
    """``work`` begins as a copy of ``target``'s gradebook (or empty)."""
    if not (target / FILE_NAME).is_file():
        target.mkdir(parents=True, exist_ok=True)
        return
    with closing(open_gradebook(target, create=False)) as _, \
            closing(sqlite3.connect(target / FILE_NAME)) as old, \
            closing(sqlite3.connect(work)) as new:
        old.backup(new)


def _columns(book: Gradebook, schema: str, table: str) -> list[str]:
    return [row[1] for row in book.execute(f"PRAGMA {schema}.table_info({table})")]


def _copy(book: Gradebook, shard: _Shard, summary: MergeSummary) -> None:
    book.execute("ATTACH DATABASE ? AS shard", (str(shard.folder / FILE_NAME),))
    try:
        pair_cols = [c for c in _common(book, "pairs") if c != "run_id"]
        test_cols = _common(book, "tests")
        with book.transaction() as db:
            mapping = _copy_runs(db, shard, summary)
            db.execute("CREATE TEMP TABLE run_map (old INTEGER PRIMARY KEY, new INTEGER)")
            db.executemany("INSERT INTO run_map VALUES (?, ?)", mapping.items())
            db.execute("DELETE FROM main.pairs WHERE (student, lesson) IN "
                       "(SELECT student, lesson FROM shard.pairs)")
            cols = ", ".join(pair_cols)
            db.execute(f"INSERT INTO main.pairs ({cols}, run_id) SELECT "
                       f"{', '.join('p.' + c for c in pair_cols)}, m.new FROM shard.pairs p "
                       "LEFT JOIN run_map m ON m.old = p.run_id")
            cols = ", ".join(test_cols)
            db.execute(f"INSERT INTO main.tests ({cols}) SELECT {cols} FROM shard.tests")
            _copy_history(book, db)
            db.execute("DROP TABLE run_map")
        summary.pairs += len(shard.pairs)
    finally:
        book.execute("DETACH DATABASE shard")


def _copy_history(book: Gradebook, db: sqlite3.Connection) -> None:
    """Each run's results (for ``regrades``, under the runs' new numbers) and the hidden
    feedback released by hand (``--out``'s own releases win), where both gradebooks have them."""
    if _common(book, "run_results") and "run_id" in _common(book, "run_results"):
        others = [c for c in _common(book, "run_results") if c != "run_id"]
        db.execute(f"INSERT OR REPLACE INTO main.run_results (run_id, {', '.join(others)}) "
                   f"SELECT m.new, {', '.join('r.' + c for c in others)} FROM "
                   "shard.run_results r JOIN run_map m ON m.old = r.run_id")
    if cols := ", ".join(_common(book, "releases")):
        db.execute(f"INSERT OR IGNORE INTO main.releases ({cols}) SELECT {cols} "
                   "FROM shard.releases")


def _common(book: Gradebook, table: str) -> list[str]:
    """The columns ``table`` has in both the shard and --out (none: a table one lacks)."""
    mine = _columns(book, "main", table)
    return [c for c in _columns(book, "shard", table) if c in mine]


def _copy_runs(db: sqlite3.Connection, shard: _Shard, summary: MergeSummary) -> dict[int, int]:
    known = dict(db.execute("SELECT token, run_id FROM main.run_sources"))
    mapping: dict[int, int] = {}
    for run in shard.runs:
        if run.source is None:
            continue  # an old run that graded none of the pairs (checked above)
        if run.source.token in known:
            mapping[run.id] = known[run.source.token]
            continue
        cursor = db.execute("INSERT INTO main.runs (started_at, finished_at, command, shard, "
                            "isolation) VALUES (?, ?, ?, ?, ?)",
                            (run.started_at, run.finished_at, run.command, run.shard,
                             run.isolation))
        new = int(cursor.lastrowid or 0)
        db.execute("INSERT INTO main.run_sources SELECT ?, token, scheduler, job, host, graders "
                   "FROM shard.run_sources WHERE run_id = ?", (new, run.id))
        mapping[run.id] = new
        summary.runs += 1
    return mapping


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

