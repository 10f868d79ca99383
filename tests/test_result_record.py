"""The one record of a graded test and lesson: status rules, and both stores writing and reading
it back with the shapes they always had (attempt files written before the record existed load)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopgrader.records.gradebook import load_gradebook_progress, open_gradebook
from loopgrader.records.pair import PairRecord
from loopgrader.records.progress import Attempt, load_progress, progress_dir, record_attempt
from loopgrader.records.result import LessonResult, TestResult

# An exercise attempt and a quiz attempt as loopgrader wrote them before the shared record.
OLD_EXERCISE: dict[str, Any] = {
    "curves": {"adds up": {"loss": {"reference": [3.0, 0.5], "student": [3.0, 1.0]}}},
    "device": "cpu", "duration_s": 1.044, "kind": "exercise", "lesson": "1.1", "max_score": 8.0,
    "schema": 1, "score": 2.0, "started_at": "2026-04-01T10:00:00+00:00", "status": "attempted",
    "tests": [
        {"expected": None, "explanation": None, "given": None, "hint": None, "max_score": 2.0,
         "message": None, "name": "adds up", "prompt": None, "score": 2.0, "status": "passed"},
        {"expected": None, "explanation": None, "given": None, "hint": "check the sign",
         "max_score": 6.0, "message": "expected 4, got 5", "name": "scales", "prompt": None,
         "score": 0.0, "status": "failed"}],
    "timings": {"fit": 1.37, "step": 0.9},
}
OLD_QUIZ: dict[str, Any] = {
    "curves": {}, "device": None, "duration_s": 3.5, "kind": "quiz", "lesson": "1.1",
    "max_score": 1.0, "schema": 1, "score": 0.0, "started_at": "2026-04-10T10:00:00+00:00",
    "status": "attempted",
    "tests": [{"expected": "b", "explanation": "Clear, forward, loss, backward, step.",
               "given": "a", "hint": None, "max_score": 1.0, "message": None,
               "name": "loop-order", "prompt": "Which order is correct?", "score": 0.0,
               "status": "failed"}],
    "timings": {},
}


def _test(name: str, passed: bool, category: str | None = None, **extra: object) -> TestResult:
    return TestResult(name, 2.0 if passed else 0.0, 2.0, passed, category=category,
                      message=None if passed else f"{name} failed", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("tests,import_error,missing,status", [
    ([("a", True, None), ("b", True, None)], None, None, "passed"),
    ([("a", True, None), ("b", False, "failed")], None, None, "attempted"),
    ([("a", False, "not_started"), ("b", False, "not_started")], None, None, "not started"),
    ([("a", False, "not_started"), ("b", False, "failed")], None, None, "attempted"),
    ([("a", False, "import_error")], "line 3: invalid syntax", None, "does not import"),
    ([("a", False, "missing")], None, "no calc.py", "missing"),
])
def test_a_fresh_grading_computes_points_and_status(
        tests: list[tuple[str, bool, str | None]], import_error: str | None,
        missing: str | None, status: str) -> None:
    result = LessonResult.from_tests("1.1", [_test(*t) for t in tests], "cpu", 0.5,
                                     import_error=import_error, missing_file=missing)
    assert result.status == status
    assert (result.score, result.max_score) == (2.0 * sum(t[1] for t in tests), 2.0 * len(tests))


def test_measurements_and_integrity_come_from_the_tests() -> None:
    curves = {"loss": {"student": [2.0, 1.0], "reference": [2.0, 0.5]}}
    result = LessonResult.from_tests("1.2", [
        _test("fits", True, extras={"timings": {"fit": {"ratio": 1.25}}, "curves": curves}),
        _test("honest", False, "integrity"), _test("honest again", False, "integrity")],
        "cpu", 1.0)
    assert result.timings == {"fit": 1.25}
    assert result.curves == {"fits": curves}
    assert result.integrity == ("honest failed", "honest again failed")


def test_attempt_files_written_before_the_record_load_and_write_back_the_same(
        tmp_path: Path) -> None:
    folder = progress_dir(tmp_path)
    folder.mkdir(parents=True)
    for i, data in enumerate((OLD_EXERCISE, OLD_QUIZ)):
        (folder / f"old{i}.json").write_text(json.dumps(data))
    exercise, quiz = load_progress(tmp_path).attempts
    assert (exercise.lesson, exercise.kind, exercise.score, exercise.status) == \
        ("1.1", "exercise", 2.0, "attempted")
    assert [t.passed for t in exercise.tests] == [True, False]
    assert exercise.tests[1].hint == "check the sign"
    assert quiz.device is None and quiz.tests[0].given == "a"
    assert exercise.to_json() == OLD_EXERCISE and quiz.to_json() == OLD_QUIZ


def test_an_attempt_file_keeps_the_keys_it_always_had(tmp_path: Path) -> None:
    result = LessonResult.from_tests("1.1", [_test("a", False, "failed", node_id="t::a",
                                                   visibility="hidden", duration_s=0.2)],
                                     "cuda", 0.25, import_error=None)
    path = record_attempt(tmp_path, Attempt("exercise", result, "2026-01-01T00:00:00+00:00"))
    data = json.loads(path.read_text())
    assert set(data) == set(OLD_EXERCISE)
    assert set(data["tests"][0]) == set(OLD_EXERCISE["tests"][0])


def test_a_gradebook_row_reads_back_as_the_record_it_stored(tmp_path: Path) -> None:
    tests = (TestResult("adds", 2.0, 2.0, True, node_id="t::adds"),
             TestResult("scales", 0.0, 3.0, False, "hidden", "off by 2", "use *", "failed",
                        "t::scales"))
    exercise = LessonResult("1.1", "attempted", 2.0, 5.0, tests, "cpu", 1.5,
                            {"fit": 1.1}, {"fits": {"loss": {"student": [1.0]}}})
    pair = PairRecord("ann", "graded", exercise, 1.0, 2.0, "", "f", "namespaces",
                      "2026-01-01T00:00:00+00:00")
    with open_gradebook(tmp_path) as book:
        book.record([pair])
        assert book.pairs() == [pair]
    assert (pair.score, pair.max_score) == (3.0, 7.0)
    exercise_attempt, quiz_attempt = load_gradebook_progress(tmp_path, "ann").attempts
    assert exercise_attempt.result == exercise
    assert (quiz_attempt.kind, quiz_attempt.score, quiz_attempt.max_score) == ("quiz", 1.0, 2.0)
