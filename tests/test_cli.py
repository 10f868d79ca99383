"""The command line, through click's CliRunner, on a copy of the mini fixture course."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopgrader.cli.main import cli
from loopgrader.grading import check as check_module

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "mini", root)
    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def sub(name: str) -> str:
    return str(FIXTURES / "submissions" / name)


@pytest.mark.slow
def test_check_passing_submission_exits_0_and_records_progress(course: Path) -> None:
    code, out, _ = run("check", "1.1", "--course", str(course), "--submission", sub("good"))
    assert code == 0, out
    assert "✓   2/2   add returns the sum" in out
    assert "Total: 4/4 points on cpu" in out
    attempts = list((course / ".loopgrader" / "attempts").glob("*.json"))
    assert len(attempts) == 1
    record = json.loads(attempts[0].read_text())
    assert (record["lesson"], record["score"], record["status"]) == ("1.1", 4.0, "passed")


@pytest.mark.slow
def test_check_failing_submission_exits_1_with_message_and_hint(course: Path) -> None:
    code, out, _ = run("check", "1.1", "--course", str(course), "--submission", sub("wrong"))
    assert code == 1
    assert "✗   0/2   add returns the sum" in out
    assert "add(a, b): 3 of 3 entries differ" in out
    assert "hint: use the + operator" in out


@pytest.mark.slow
def test_check_stub_says_not_started_and_what_to_do(course: Path) -> None:
    code, out, _ = run("check", "1.1", "--course", str(course))
    assert code == 1
    assert "not started (0/4)" in out
    assert "exercises/1.1/calc.py (add, scale)" in out


@pytest.mark.slow
def test_check_json_follows_the_gradescope_schema(course: Path) -> None:
    code, out, _ = run("check", "1.1", "--course", str(course), "--submission", sub("wrong"),
                       "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert {"score", "max_score", "execution_time", "tests", "lesson", "device",
            "loopgrader_version"} <= set(data)
    assert (data["score"], data["max_score"], data["lesson"]) == (1.0, 4.0, "1.1")
    first = data["tests"][0]
    assert set(first) == {"name", "score", "max_score", "status", "output", "visibility"}
    assert first["status"] == "failed" and "entries differ" in first["output"]
    assert data["tests"][2]["visibility"] == "hidden"


@pytest.mark.slow
def test_check_module_lists_lessons_not_built(course: Path) -> None:
    code, out, _ = run("check", "1", "--course", str(course), "--submission", sub("good"))
    assert code == 0
    assert "Lesson 1.2 — Not built yet: not built yet" in out


def test_unknown_lesson_is_a_usage_error_listing_valid_ids(course: Path) -> None:
    code, _, err = run("check", "9.9", "--course", str(course))
    assert code == 2
    assert "unknown lesson '9.9'; valid lessons: 1.1, 1.2" in err


def test_broken_manifest_is_a_course_error(course: Path) -> None:
    (course / "course.yaml").write_text("modules: {1: A}\nlessons:\n  - {id: 1.1, bogus: 2}\n")
    code, _, err = run("check", "1.1", "--course", str(course))
    assert code == 3
    assert "lessons[0]: bogus: unknown key" in err
    assert "id: expected a lesson id like '1.2' (quoted), got 1.1" in err
    assert "Traceback" not in err


def test_not_a_course_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("list", "--course", str(tmp_path))
    assert code == 2 and "no course.yaml here" in err


def test_internal_error_is_one_line_unless_debug(course: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(**_: object) -> None:
        raise RuntimeError("something broke")

    monkeypatch.setattr(check_module, "run_check", boom)
    code, _, err = run("check", "1.1", "--course", str(course))
    assert code == 4
    assert err.strip().splitlines() == [
        "Error: loopgrader itself failed (RuntimeError: something broke); run again with "
        "--debug for the traceback"]
    code, _, err = run("check", "1.1", "--course", str(course), "--debug")
    assert code == 4 and "Traceback" in err


@pytest.mark.slow
def test_list_shows_status_from_progress(course: Path) -> None:
    code, out, _ = run("list", "--course", str(course))
    assert code == 0
    assert "1.1" in out and "not started" in out and "not built yet" in out
    run("check", "1.1", "--course", str(course), "--submission", sub("wrong"))
    _, out, _ = run("list", "--course", str(course))
    assert "exercise attempted (best 1/4, 1 attempts)" in out


@pytest.mark.slow
def test_validate_accepts_the_mini_course_and_reports_points_mismatch(course: Path) -> None:
    code, out, _ = run("validate", "--course", str(course))
    assert code == 0, out
    manifest = course / "course.yaml"
    manifest.write_text(manifest.read_text().replace("points: 4", "points: 5"))
    code, out, _ = run("validate", "--course", str(course))
    assert code == 3
    assert "lessons 1.1: points: expected 4 (the sum of its graders' points), got 5" in out


def test_validate_reports_missing_reference_and_stub_without_todo(course: Path) -> None:
    (course / "graders" / "1.1" / "reference" / "calc.py").unlink()
    (course / "exercises" / "1.1" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    code, out, _ = run("validate", "--course", str(course))
    assert code == 3
    assert "reference of lesson 1.1: expected a file, got none" in out
    assert "expected `raise NotImplementedError(...)`" in out


def test_report_from_a_gradebook_shows_one_student(course: Path, tmp_path: Path) -> None:
    from loopgrader.records.gradebook import PairRecord, open_gradebook
    from loopgrader.records.result import LessonResult, TestResult

    book_dir = tmp_path / "class"
    tests = (TestResult("adds", 2.0, 2.0, True, node_id="t.py::test_add"),
             TestResult("scales", 0.0, 2.0, False, message="off by 2",
                        node_id="t.py::test_scale"))
    exercise = LessonResult("1.1", "attempted", 2.0, 4.0, tests, duration_s=0.5,
                            timings={"fit": 1.1})
    with open_gradebook(book_dir) as book:
        book.record([PairRecord("ann", "graded", exercise,
                                graded_at="2026-11-01T10:00:00+00:00")])
    code, out, _ = run("report", "--course", str(course), "--gradebook", str(book_dir),
                       "--student", "ann", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["student"] == "ann"
    lesson = data["modules"][0]["lessons"][0]
    assert (lesson["id"], lesson["exercise"]["best"]["score"]) == ("1.1", 2.0)
    assert lesson["timings"] == {"fit": 1.1}

    code, _, err = run("report", "--course", str(course), "--gradebook", str(book_dir),
                       "--student", "zed")
    assert code == 2 and "no results for student 'zed'" in err and "ann" in err
    code, _, err = run("report", "--course", str(course), "--gradebook", str(book_dir))
    assert code == 2 and "--gradebook and --student go together" in err
    code, _, err = run("report", "--course", str(course), "--gradebook", str(tmp_path / "none"),
                       "--student", "ann")
    assert code == 2 and "no gradebook here" in err
