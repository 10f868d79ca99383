"""``merge`` only combines gradebooks that fit: every shard of one split once, finished, each
student in its own shard, every pair graded with the course's graders as they are now; each
refusal names the folders, and leaves ``--out`` as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_harness import make_course
from loopgrader.batch import merge as batch_merge
from loopgrader.batch.grade import in_shard
from loopgrader.batch.merge import merge_gradebooks
from loopgrader.batch.provenance import graders_fingerprints
from loopgrader.cli.batch import merge_command
from loopgrader.course.catalog import Course, load_course
from loopgrader.errors import UsageError
from loopgrader.records.gradebook import (
    FILE_NAME,
    PairRecord,
    RunSource,
    open_gradebook,
)
from loopgrader.records.result import LessonResult, TestResult

STUDENTS = [f"s{i:02d}" for i in range(24)]


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return load_course(make_course(tmp_path / "course"))


def pair(student: str, score: float = 4.0) -> PairRecord:
    tests = (TestResult("adds", min(score, 2.0), 2.0, score >= 2.0, node_id="t.py::test_add"),
             TestResult("scales", max(score - 2.0, 0.0), 2.0, score >= 4.0, "hidden", "x",
                        category=None if score >= 4.0 else "wrong", node_id="t.py::test_scale"))
    exercise = LessonResult("1.1", "attempted", score, 4.0, tests, "cpu", 0.5)
    return PairRecord(student, "graded", exercise, None, 2.0, "", f"fp-{student}", "limits",
                      "2026-01-01T00:00:00+00:00")


def shard_book(folder: Path, course: Course, k: int, n: int, *, finish: bool = True,
               graders: dict[str, str] | None = None) -> list[str]:
    """A gradebook of shard K/N as `grade` writes it; returns its students."""
    students = [s for s in STUDENTS if in_shard(s, (k, n))]
    source = RunSource("slurm", f"slurm job 7 task {k}", "node1",
                       graders_fingerprints(course) if graders is None else graders)
    with open_gradebook(folder) as book:
        run = book.start_run(f"loopgrader grade subs --shard {k}/{n}", f"{k}/{n}", "limits",
                             source)
        book.record([pair(s, float(len(s) + k) % 5) for s in students], run)
        if finish:
            book.finish_run(run)
    return students


def table(folder: Path, sql: str) -> list[tuple[object, ...]]:
    return sqlite3.connect(folder / FILE_NAME).execute(sql).fetchall()


def test_every_shard_merges_runs_and_sources_are_kept_and_merging_again_changes_nothing(
        tmp_path: Path, course: Course) -> None:
    folders = [tmp_path / f"out-{k}" for k in range(1, 5)]
    for k, folder in enumerate(folders, 1):
        shard_book(folder, course, k, 4)
    summary = merge_gradebooks(course, tmp_path / "class", folders)
    assert (summary.shards, summary.sources, summary.pairs, summary.runs, summary.students) == \
        (4, 4, 24, 4, 24)
    with open_gradebook(tmp_path / "class", create=False) as book:
        merged = book.pairs()
        runs = book.run_infos()
        by_run = book.pair_runs()
    originals = {}
    for folder in folders:
        with open_gradebook(folder, create=False) as book:
            originals.update({(p.student, p.lesson): p for p in book.pairs()})
    assert {(p.student, p.lesson): p for p in merged} == originals
    shard_of = {run.id: run.shard for run in runs}
    assert all(in_shard(s, tuple(int(x) for x in shard_of[run].split("/")))  # type: ignore[arg-type]
               for (s, _), run in by_run.items() if run is not None)
    assert sorted(run.source.job for run in runs if run.source) == \
        [f"slurm job 7 task {k}" for k in range(1, 5)]
    before = table(tmp_path / "class", "SELECT * FROM pairs ORDER BY student")
    again = merge_gradebooks(course, tmp_path / "class", folders)
    assert again.runs == 0 and len(table(tmp_path / "class", "SELECT * FROM runs")) == 4
    assert table(tmp_path / "class", "SELECT * FROM pairs ORDER BY student") == before
    assert len(table(tmp_path / "class", "SELECT * FROM tests")) == 48
    assert table(tmp_path / "class", "SELECT count(*) FROM run_results r JOIN runs ON "
                 "runs.id = r.run_id AND runs.shard LIKE '%/4'") == [(24,)]  # history kept


def test_a_missing_shard_is_named_and_nothing_is_written(tmp_path: Path, course: Course) -> None:
    for k in (1, 2, 4):
        shard_book(tmp_path / f"out-{k}", course, k, 4)
    with pytest.raises(UsageError, match=r"shard 3 of 4 has no gradebook \(merging .*out-1, "
                       r".*out-2, .*out-4\)"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / f"out-{k}" for k in (1, 2, 4)])
    assert not (tmp_path / "class" / FILE_NAME).exists()
    with pytest.raises(UsageError, match="shards 2, 3 of 4 have no gradebook"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / f"out-{k}" for k in (1, 4)])


def test_overlapping_and_mixed_splits_are_refused(tmp_path: Path, course: Course) -> None:
    shard_book(tmp_path / "a", course, 2, 4)
    shard_book(tmp_path / "b", course, 2, 4)
    with pytest.raises(UsageError, match=r"overlapping shards: shard 2 of 4 is in both .*a and "
                       r".*b"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "a", tmp_path / "b"])
    shard_book(tmp_path / "c", course, 1, 2)
    with pytest.raises(UsageError, match=r"different splits \(.*a: 2/4; .*c: 1/2\)"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "a", tmp_path / "c"])
    with pytest.raises(UsageError, match="is given twice"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "a", tmp_path / "a"])
    open_gradebook(tmp_path / "empty").close()
    with pytest.raises(UsageError, match=r"empty records no run of `loopgrader grade`"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "a", tmp_path / "empty"])
    with pytest.raises(UsageError, match="is also one of the shards"):
        merge_gradebooks(course, tmp_path / "a", [tmp_path / "a", tmp_path / "c"])


def test_gradebooks_made_with_other_graders_are_refused(tmp_path: Path, course: Course) -> None:
    shard_book(tmp_path / "out-1", course, 1, 2)
    shard_book(tmp_path / "out-2", course, 2, 2)
    grader = next((course.root / "graders" / "1.1").glob("test_*.py"))
    grader.write_text(grader.read_text() + "\n# a grader changed after grading\n")
    changed = load_course(course.root)
    with pytest.raises(UsageError, match=r"other graders than the course's in .*course: "
                       r".*out-1 \(lesson 1.1\); .*out-2 \(lesson 1.1\)") as info:
        merge_gradebooks(changed, tmp_path / "class", [tmp_path / "out-1", tmp_path / "out-2"])
    assert "--force" in str(info.value)
    shard_book(tmp_path / "new-1", changed, 1, 2)
    with pytest.raises(UsageError, match=r"course: \S*out-2 \(lesson 1.1\)\n"):
        merge_gradebooks(changed, tmp_path / "class", [tmp_path / "new-1", tmp_path / "out-2"])


def test_results_without_recorded_graders_are_refused(tmp_path: Path, course: Course) -> None:
    shard_book(tmp_path / "out-1", course, 1, 2)
    with open_gradebook(tmp_path / "old") as book:  # as an older loopgrader wrote it
        run = book.start_run("loopgrader grade subs --shard 2/2", "2/2", "limits")
        book.record([pair(s) for s in STUDENTS if in_shard(s, (2, 2))], run)
        book.finish_run(run)
    with pytest.raises(UsageError, match=r"old holds results whose graders were not recorded"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "out-1", tmp_path / "old"])


def test_an_unfinished_shard_and_a_student_of_another_shard_are_refused(
        tmp_path: Path, course: Course) -> None:
    shard_book(tmp_path / "out-1", course, 1, 2)
    shard_book(tmp_path / "out-2", course, 2, 2, finish=False)
    with pytest.raises(UsageError, match=r"out-2: shard 2 of 2 did not finish"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "out-1", tmp_path / "out-2"])
    stranger = next(s for s in STUDENTS if in_shard(s, (1, 2)))
    with open_gradebook(tmp_path / "out-3") as book:
        run = book.start_run("grade", "2/2", "limits", RunSource(graders=graders_fingerprints(
            course)))
        book.record([pair(stranger)], run)
        book.finish_run(run)
    with pytest.raises(UsageError, match=rf"out-3 holds student '{stranger}', who belongs to "
                       r"none of its shards \(2 of 2\)"):
        merge_gradebooks(course, tmp_path / "class", [tmp_path / "out-1", tmp_path / "out-3"])


def test_a_merge_stopped_halfway_leaves_out_as_it_was(tmp_path: Path, course: Course,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [tmp_path / f"out-{k}" for k in (1, 2)]
    for k, folder in enumerate(folders, 1):
        shard_book(folder, course, k, 2)
    merge_gradebooks(course, tmp_path / "class", folders)
    with open_gradebook(tmp_path / "class", create=False) as book:
        book.record([pair("zz-late-entry")])  # kept: no shard holds it
    before = table(tmp_path / "class", "SELECT * FROM pairs ORDER BY student")
    calls = []
    real = batch_merge._copy

    def failing(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_merge, "_copy", failing)
    with pytest.raises(KeyboardInterrupt):
        merge_gradebooks(course, tmp_path / "class", folders)
    assert table(tmp_path / "class", "SELECT * FROM pairs ORDER BY student") == before
    monkeypatch.setattr(batch_merge, "_copy", real)
    merge_gradebooks(course, tmp_path / "class", folders)
    assert table(tmp_path / "class", "SELECT * FROM pairs ORDER BY student") == before
    assert not list((tmp_path / "class").glob("*.merging*"))


def test_an_old_gradebook_gains_the_sources_table_and_keeps_its_rows(tmp_path: Path) -> None:
    with open_gradebook(tmp_path) as book:
        run = book.start_run("grade", "1/1", "limits")
        book.record([pair("ann")], run)
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("DROP TABLE run_sources")  # the schema before sources were recorded
    db.commit()
    db.close()
    with open_gradebook(tmp_path, create=False) as book:
        assert [p.student for p in book.pairs()] == ["ann"]
        assert book.run_infos()[0].source is None
        assert book.graded_with() == {("ann", "1.1"): None}
        source = RunSource("kubernetes", "pod p-0 index 0", "p-0", {"1.1": "abc"})
        second = book.start_run("grade", "1/1", "limits", source)
        book.record([pair("bob")], second)
        assert book.graded_with() == {("ann", "1.1"): None, ("bob", "1.1"): "abc"}
        assert book.run_infos()[1].source == source


def test_the_merge_command_names_the_missing_shard_without_a_traceback(
        tmp_path: Path, course: Course) -> None:
    for k in (1, 2, 4):
        shard_book(tmp_path / f"out-{k}", course, k, 4)
    result = CliRunner().invoke(merge_command, [*(str(tmp_path / f"out-{k}") for k in (1, 2, 4)),
                                                "--out", str(tmp_path / "class"), "--course",
                                                str(course.root)])
    assert result.exit_code == 2
    assert "Error: merge refused: shard 3 of 4 has no gradebook" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "class" / FILE_NAME).exists()
    shard_book(tmp_path / "out-3", course, 3, 4)
    result = CliRunner().invoke(merge_command, [*(str(tmp_path / f"out-{k}") for k in range(1, 5)),
                                                "--out", str(tmp_path / "class"), "--course",
                                                str(course.root)])
    assert result.exit_code == 0, result.output
    assert "merged 4 gradebooks (all 4 shards, 24 pairs)" in result.output
    assert (tmp_path / "class" / "grades_wide.csv").read_text().count("\n") == 25
