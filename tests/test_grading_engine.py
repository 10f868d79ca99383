"""The execution model end to end: a tiny course graded on good, wrong and hostile submissions
through the real grader process (pytest in a subprocess, student code in sandboxed workers)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loopgrader.course.catalog import load_course
from loopgrader.grading.runner import grade_lessons
from loopgrader.records.result import LessonResult
from processes import sleepers, unique_sleep

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COURSE = load_course(FIXTURES / "mini")
LESSON = COURSE.lesson("1.1")
pytestmark = pytest.mark.slow


def grade(name: str, timeout: float = 20.0) -> LessonResult:
    run = grade_lessons(COURSE, [LESSON], FIXTURES / "submissions" / name, device="cpu",
                        timeout=timeout)
    return run.results["1.1"]


def by_name(result: LessonResult) -> dict[str, object]:
    return {t.node_id.split("::")[-1]: t for t in result.tests}


def test_good_submission_scores_full_marks() -> None:
    result = grade("good")
    assert (result.score, result.max_score, result.status) == (4.0, 4.0, "passed")
    assert [t.visibility for t in result.tests] == ["visible", "visible", "hidden"]
    assert result.tests[0].name == "add returns the sum"


def test_wrong_answer_names_expected_and_got() -> None:
    result = grade("wrong")
    add = result.tests[0]
    assert not add.passed and add.category == "failed"
    assert "add(a, b): 3 of 3 entries differ" in (add.message or "")
    assert add.hint == "use the + operator"
    assert result.score == 1.0 and result.status == "attempted"


def test_stub_is_not_started() -> None:
    run = grade_lessons(COURSE, [LESSON], FIXTURES / "mini" / "exercises", device="cpu")
    result = run.results["1.1"]
    assert result.status == "not started" and result.score == 0
    assert all(t.category == "not_started" for t in result.tests)


def test_exception_in_student_code_is_reported_with_its_line() -> None:
    add = grade("raises").tests[0]
    assert add.category == "exception"
    assert "add(Tensor[3], Tensor[3]) raised ValueError: nope" in (add.message or "")
    assert "calc.py, line 2, in add" in (add.message or "")


def test_sys_exit_fails_only_the_affected_tests() -> None:
    result = grade("exits")
    tests = by_name(result)
    assert "called sys.exit(3)" in (tests["test_add"].message or "")  # type: ignore[attr-defined]
    assert tests["test_scale"].passed  # type: ignore[attr-defined]


def test_os_exit_is_a_crash_and_the_next_test_gets_a_fresh_worker() -> None:
    tests = by_name(grade("hard_exit"))
    add = tests["test_add"]
    assert add.category == "crash"  # type: ignore[attr-defined]
    assert "exited with code 9" in (add.message or "")  # type: ignore[attr-defined]
    assert tests["test_scale"].passed  # type: ignore[attr-defined]


def test_infinite_loop_times_out_and_its_whole_process_group_is_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker may live in a PID namespace of its own (its pids mean nothing here) and may not
    # write outside its scratch folder: the child is found by a unique command line instead.
    duration = unique_sleep()
    monkeypatch.setenv("LOOPGRADER_TEST_SLEEP", duration)
    started = time.perf_counter()
    tests = by_name(grade("hangs", timeout=2.0))
    assert time.perf_counter() - started < 30
    add = tests["test_add"]
    assert add.category == "timeout"  # type: ignore[attr-defined]
    assert "did not finish within 2 s" in (add.message or "")  # type: ignore[attr-defined]
    assert tests["test_scale"].passed  # type: ignore[attr-defined]
    # The child the student started (sleep 300) died with the worker's process group.
    deadline = time.monotonic() + 5
    while sleepers(duration) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sleepers(duration), "a process started by the student survived the timeout"


@pytest.mark.parametrize("name,fragment", [
    ("syntax_error", "SyntaxError"),
    ("import_raises", "RuntimeError: boom at import"),
    ("import_exits", "SystemExit"),
    ("not_utf8", "SyntaxError"),
], ids=["syntax", "raises", "sys.exit", "not-utf8"])
def test_file_that_does_not_import_gives_one_message(name: str, fragment: str) -> None:
    result = grade(name)
    assert result.status == "does not import"
    assert result.import_error is not None and fragment in result.import_error
    assert "calc.py" in result.import_error
    assert {t.message for t in result.tests} == {result.import_error}
    assert result.score == 0


def test_non_utf8_byte_in_a_comment_does_not_import_as_in_python() -> None:
    """`python calc.py` refuses a file with a non-UTF-8 byte and no encoding declaration (PEP
    263), even in a comment, where importing from bytes would let it through: so does grading,
    naming the line."""
    result = grade("not_utf8_comment")
    assert result.status == "does not import"
    assert result.import_error is not None
    assert "Non-UTF-8 code starting with '\\xe9'" in result.import_error
    assert "line 2" in result.import_error and "calc.py" in result.import_error
    assert result.score == 0


def test_empty_file_reports_missing_functions() -> None:
    result = grade("empty")
    assert "has no function or class named 'add'" in (result.tests[0].message or "")


def test_missing_file_is_reported() -> None:
    result = grade("nonexistent-folder")
    assert result.status == "missing" and result.score == 0


def test_student_warnings_are_not_errors() -> None:
    assert grade("warns").passed


def test_printed_output_cannot_fake_a_score() -> None:
    result = grade("noisy")
    assert result.passed  # printing is harmless: answers are judged, output is ignored
    assert result.score == 4.0


def test_submission_cannot_configure_the_grader_run() -> None:
    result = grade("hostile_config")
    add = by_name(result)["test_add"]
    # conftest.py/pytest.ini in the submission are ignored, and its torch.py shadows nothing.
    assert not add.passed  # type: ignore[attr-defined]
    assert "hostile_marker" in (add.message or "")  # type: ignore[attr-defined]
    assert result.score == 1.0  # only scale, which does not use torch


def test_tensor_subclass_that_lies_in_comparisons_is_judged_on_its_data() -> None:
    result = grade("lying_tensor")
    assert not by_name(result)["test_add"].passed  # type: ignore[attr-defined]
