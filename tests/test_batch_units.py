"""The batch's parts that need no grader run: shards, lesson selection, finding and staging
submissions, the status rules, exports and progress output."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from batch_harness import make_course, write_file, zip_folder
from loopgrader.batch.exports import gradescope_results, item_analysis, write_exports
from loopgrader.batch.grade import in_shard, parse_shard, select_batch_lessons
from loopgrader.batch.rows import QuizScore, pair_from_result, pair_without_grading
from loopgrader.batch.stage import discover, safe_name, stage
from loopgrader.cli.progressbar import PlainLines, TerminalBar, make_listener
from loopgrader.course.catalog import load_course
from loopgrader.errors import UsageError
from loopgrader.records.gradebook import PairRecord
from loopgrader.records.result import LessonResult, TestResult


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


def test_shards_partition_students_whatever_else_is_there() -> None:
    students = [f"s{i:03d}" for i in range(200)]
    shards = [[s for s in students if in_shard(s, (k, 4))] for k in range(1, 5)]
    assert sorted(s for shard in shards for s in shard) == students
    assert all(25 < len(shard) < 75 for shard in shards)
    assert [s for s in students[:10] if in_shard(s, (2, 4))] == \
        [s for s in students[:10] if in_shard(s, (2, 4))]  # deterministic
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/2", "3/2", "x", "1/2/3"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_lessons_are_selected_by_list_module_or_all(course: Path) -> None:
    loaded = load_course(course)
    assert [x.id for x in select_batch_lessons(loaded, "all")] == ["1.1"]
    assert [x.id for x in select_batch_lessons(loaded, "1")] == ["1.1"]
    assert [x.id for x in select_batch_lessons(loaded, "1.1,1.1")] == ["1.1"]
    with pytest.raises(UsageError, match="not built yet"):
        select_batch_lessons(loaded, "1.1,1.2")
    with pytest.raises(UsageError, match="unknown lesson"):
        select_batch_lessons(loaded, "9.9")


def test_submissions_are_folders_and_zips_and_names_must_differ(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write_file(subs, "ann", "x = 1\n")
    zip_folder(subs / "ann", subs / "bob.zip")
    (subs / ".DS_Store").write_text("")
    (subs / "notes.txt").write_text("")
    assert [(s.student, s.is_zip) for s in discover(subs)] == [("ann", False), ("bob", True)]
    zip_folder(subs / "ann", subs / "ann.zip")
    with pytest.raises(UsageError, match="two submissions for 'ann'"):
        discover(subs)
    assert safe_name("ann") == "ann"
    assert safe_name("../x y") != safe_name("../x_y") and "/" not in safe_name("../x y")


def test_staging_copies_only_the_lessons_files(course: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    nested = subs / "ann" / "repo" / "exercises"
    write_file(nested.parent, "exercises", "x = 1\n")
    (nested / "1.1" / "answers.yaml").write_text("plus: a\n")
    (nested / "1.1" / "conftest.py").write_text("evil\n")
    (nested / "1.1" / "torch.py").write_text("evil\n")
    lessons = list(load_course(course).lessons[:1])
    staged = stage(discover(subs)[0], lessons, tmp_path / "stage")
    copied = sorted(p.relative_to(staged.root).as_posix() for p in staged.root.rglob("*")
                    if p.is_file())
    assert copied == ["1.1/answers.yaml", "1.1/calc.py"]
    first = staged.fingerprints["1.1"]
    (nested / "1.1" / "calc.py").write_text("x = 2\n")
    assert stage(discover(subs)[0], lessons, tmp_path / "stage2").fingerprints["1.1"] != first


def _result(*tests: tuple[bool, str | None], import_error: str | None = None) -> LessonResult:
    return LessonResult.from_tests("1.1", tuple(
        TestResult(f"t{i}", 1.0 if ok else 0.0, 1.0, ok, category=None if ok else cat,
                   message=None if ok else f"{cat} at /stage/1.1/calc.py", node_id=f"n{i}")
        for i, (ok, cat) in enumerate(tests)), "cpu", 0.5, import_error=import_error)


@pytest.mark.parametrize("tests,import_error,status", [
    ([(True, None), (False, "failed")], None, "graded"),
    ([(True, None), (False, "timeout")], None, "timed out"),
    ([(False, "crash"), (False, "timeout")], None, "timed out"),
    ([(False, "crash"), (True, None)], None, "crashed"),
    ([(False, "import_error")], "does not import", "error"),
    ([(False, "grader_error"), (True, None)], None, "error"),
    ([(False, "not_started"), (False, "not_started")], None, "not started"),
])
def test_status_rules(tests: list[tuple[bool, str | None]], import_error: str | None,
                      status: str) -> None:
    pair = pair_from_result("ann", _result(*tests, import_error=import_error),
                            QuizScore(2.0, 1.5), fingerprint="f", isolation="limits",
                            strip="/stage")
    assert pair.status == status
    assert (pair.score, pair.max_score) == (sum(ok for ok, _ in tests) + 1.5, len(tests) + 2.0)
    assert all("/stage" not in (t.message or "") for t in pair.tests)


def test_rows_without_grading_keep_the_maximum(course: Path) -> None:
    lesson = load_course(course).lessons[0]
    row = pair_without_grading("ann", lesson, "not submitted", QuizScore(2.0))
    assert (row.score, row.max_score, row.quiz_score) == (0.0, 6.0, None)
    assert "no 1.1/calc.py (or calc.ipynb) in the submission" in row.message


def _pair(student: str, passed: bool, message: str = "wrong") -> PairRecord:
    tests = (TestResult("adds", 2.0 if passed else 0.0, 2.0, passed, "visible",
                        None if passed else message, "use +", None if passed else "failed",
                        "n0"),
             TestResult("hidden", 0.0, 1.0, False, "hidden", "slow", None, "timeout", "n1"))
    exercise = LessonResult("1.1", "attempted", 2.0 if passed else 0.0, 3.0, tests, "cpu", 1.0)
    return PairRecord(student, "graded", exercise, None, 2.0, "", "f", "limits", "now")


def test_exports(course: Path, tmp_path: Path) -> None:
    pairs = [_pair("ann", True), _pair("-bob", False, "<b>```evil```</b>")]
    files = write_exports(load_course(course), pairs, tmp_path / "out")
    names = {p.relative_to(tmp_path / "out").as_posix() for p in files}
    assert {"grades_wide.csv", "grades_long.csv", "item_analysis.csv", "item_analysis.md",
            "results/ann/results.json", "feedback/ann.md", "feedback/ann.html"} <= names
    wide = (tmp_path / "out" / "grades_wide.csv").read_text().splitlines()
    assert wide == ["student,lesson 1.1,total,integrity", "'-bob,0,0,", "ann,2,2,"]
    bob = next(p for p in files if p.name.endswith(".md") and "bob" in p.name).read_text()
    assert "````text\n  <b>```evil```</b>\n  ````" in bob and "hidden test" in bob
    html = next(p for p in files if p.name.endswith(".html") and "bob" in p.name).read_text()
    assert "&lt;b&gt;```evil```&lt;/b&gt;" in html
    results = json.loads((tmp_path / "out" / "results" / "ann" / "results.json").read_text())
    assert results["score"] == 2.0
    assert [t["name"] for t in results["tests"]] == ["[1.1] adds", "[1.1] hidden", "[1.1] quiz"]
    assert results["tests"][1]["visibility"] == "hidden"
    stats = item_analysis(pairs)
    assert [(s.node_id, s.failed, s.graded) for s in stats] == [("n1", 2, 2), ("n0", 1, 2)]
    assert gradescope_results([])["score"] == 0


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_listener(Tty()), TerminalBar)
    plain = io.StringIO()
    listener = make_listener(plain)
    assert isinstance(listener, PlainLines)
    listener.start(4, 1)
    listener.advance(2, "ann", Counter(graded=2))
    listener.finish()
    assert plain.getvalue().splitlines()[-1].startswith("[3/4 pairs] graded ann · ETA")
    bar = TerminalBar(Tty())
    bar.start(4, 0)
    bar.advance(4, "ann", Counter(graded=4))
    assert "4/4 pairs" in bar.stream.getvalue() and "4 graded" in bar.stream.getvalue()
