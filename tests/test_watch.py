"""`loopgrader watch`: the session on a copy of the mini course, through pipes (plain output)
and in a real terminal (tmux), plus the pure parts (changes, next step, syntax errors)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopgrader.cli.main import cli
from loopgrader.course.catalog import load_course
from loopgrader.grading.check import CheckReport, LessonCheck
from loopgrader.grading.filewatch import choose_mode
from loopgrader.grading.watch import (
    Change,
    Update,
    changes_between,
    next_step,
    syntax_problem,
)
from loopgrader.output.watch import update_text
from loopgrader.records.result import LessonResult, TestResult
from processes import sleepers, unique_sleep, wait_gone
from watch_harness import (
    FIXTURES,
    GOOD,
    WRONG,
    PlainWatch,
    Tmux,
    descendants,
    editor_save,
    watch_command,
)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "mini", root)
    return root


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    root = tmp_path / "submission"
    (root / "1.1").mkdir(parents=True)
    (root / "1.1" / "calc.py").write_text(GOOD)
    return root


def attempts(course: Path) -> list[dict[str, object]]:
    folder = course / ".loopgrader" / "attempts"
    return sorted((json.loads(p.read_text()) for p in folder.glob("*.json")),
                  key=lambda a: str(a["started_at"]))


def host_pids(pid: int) -> set[int]:
    found = set()
    for child in descendants(pid):
        try:
            if b"loopgrader.sandbox.host" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:  # it has just ended
            pass
    return found


# --- through pipes ----------------------------------------------------------------------------


@pytest.mark.slow
def test_saves_regrade_with_changes_first_and_every_grading_is_an_attempt(
        course: Path, submission: Path) -> None:
    watch = PlainWatch("1.1", "--course", str(course), "--submission", str(submission))
    try:
        first = watch.screen()
        assert "run 1" in first and "Score: 4/4 points on cpu" in first
        assert "Every test passes (1.1)" in first
        assert "file-system events" in first.splitlines()[-1]
        host = host_pids(watch.proc.pid)
        assert len(host) == 1

        editor_save(submission / "1.1" / "calc.py", WRONG)  # one save: a burst of changes
        second = watch.screen()
        assert "run 2" in second and "saved 1.1/calc.py" in second
        broke = second.index("broke        ✗ add returns the sum")
        assert broke < second.index("✗   0/2   add returns the sum") < \
            second.index("Score: 1/4")
        assert "hint: use the + operator" in second
        assert "score 4 → 1/4" in second
        assert not any("run 3" in line for line in watch.quiet_for(1.5)), "one save, one run"

        editor_save(submission / "1.1" / "calc.py", GOOD)
        third = watch.screen()
        assert "now passing  ✓ add returns the sum" in third
        assert "Every test passes (1.1)" in third
        assert host_pids(watch.proc.pid) == host, "the same warm host grades every save"
        assert [a["score"] for a in attempts(course)] == [4.0, 1.0, 4.0]

        below = descendants(watch.proc.pid)
        code, err = watch.interrupt()
        assert code == 130, err
        assert "stopped watching" in err and "Traceback" not in err
        assert not wait_gone(below), "processes outlived the watch"
    finally:
        watch.kill()


@pytest.mark.slow
def test_broken_saves_hangs_crashes_and_a_dead_host_leave_the_watch_running(
        course: Path, submission: Path, tmp_path: Path) -> None:
    duration = unique_sleep()  # marks the child the hanging submission starts
    watch = PlainWatch("1.1", "--course", str(course), "--submission", str(submission),
                       "--timeout", "2", env={"LOOPGRADER_TEST_SLEEP": duration})
    target = submission / "1.1" / "calc.py"
    try:
        watch.screen()
        editor_save(target, "def add(a, b)\n    return a + b\n")
        broken = watch.screen()
        assert "1.1/calc.py does not compile, so it was not graded" in broken
        assert "line 1: expected ':'" in broken and "def add(a, b)" in broken
        assert "Last results kept: 4/4 points" in broken
        assert len(attempts(course)) == 1, "a save that does not compile is not an attempt"

        editor_save(target, (FIXTURES / "submissions" / "hangs" / "1.1" / "calc.py").read_text())
        hung = watch.screen()
        assert "did not finish within 2 s" in hung and "Score: 1/4" in hung
        deadline = time.monotonic() + 10
        while sleepers(duration) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not sleepers(duration), "the student's child survived"

        editor_save(target, (FIXTURES / "submissions" / "hard_exit" / "1.1" / "calc.py")
                    .read_text())
        crashed = watch.screen()
        assert "exited with code 9" in crashed and "Score: 1/4" in crashed

        (host,) = host_pids(watch.proc.pid)
        os.killpg(host, signal.SIGKILL)  # the host dies between two saves
        assert not wait_gone({host})
        editor_save(target, GOOD)
        again = watch.screen()
        assert "Score: 4/4" in again and "now passing  ✓ add returns the sum" in again
        assert len(host_pids(watch.proc.pid)) == 1
        assert watch.interrupt()[0] == 130
    finally:
        watch.kill()


@pytest.mark.slow
def test_a_host_that_dies_during_a_grading_is_replaced_and_the_save_graded_again(
        course: Path, submission: Path) -> None:
    watch = PlainWatch("1.1", "--course", str(course), "--submission", str(submission))
    try:
        watch.screen()
        (host,) = host_pids(watch.proc.pid)
        slow = "import time\n\n\ndef add(a, b):\n    time.sleep(3)\n    return a + b\n\n\n" \
            "def scale(a, k):\n    return a * k\n"
        editor_save(submission / "1.1" / "calc.py", slow)
        watch.wait_line("saved: grading")
        time.sleep(1.0)
        os.killpg(host, signal.SIGKILL)
        again = watch.screen()
        assert "Score: 4/4" in again and "did not finish" not in again
        assert host not in host_pids(watch.proc.pid) and len(host_pids(watch.proc.pid)) == 1
        assert [a["score"] for a in attempts(course)] == [4.0, 4.0], "one attempt per save"
        assert watch.interrupt()[0] == 130
    finally:
        watch.kill()


@pytest.mark.slow
def test_a_missing_file_is_reported_as_check_does_then_graded_once_created(
        course: Path, tmp_path: Path) -> None:
    submission = tmp_path / "empty"
    submission.mkdir()
    watch = PlainWatch("1.1", "--course", str(course), "--submission", str(submission),
                       "--poll")
    try:
        first = watch.screen()
        assert "Lesson 1.1 — Adding things: missing (0/4)" in first
        assert "polling every 150 ms (--poll)" in first
        (submission / "1.1").mkdir()
        editor_save(submission / "1.1" / "calc.py", GOOD)
        assert "Score: 4/4" in watch.screen()
        assert watch.interrupt()[0] == 130
    finally:
        watch.kill()


def test_a_saved_answers_file_rescores_the_quiz_without_a_grader(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    answers = tmp_path / "1.6" / "answers.yaml"
    answers.parent.mkdir(parents=True)
    answers.write_text("which-step-computes-gradients: a\n")
    watch = PlainWatch("1.6", "--course", str(repo), "--submission", str(tmp_path))
    try:
        first = watch.screen()
        assert "Lesson 1.6 — Recap and Key Takeaways: quiz only" in first
        assert "wrong: which-step-computes-gradients" in first
        editor_save(answers, "which-step-computes-gradients: b\n")
        second = watch.screen()
        assert "now passing  ✓ quiz question which-step-computes-gradients" in second
        assert not host_pids(watch.proc.pid), "a quiz alone needs no grader host"
        assert watch.interrupt()[0] == 130
    finally:
        watch.kill()


def test_unknown_lessons_and_lessons_not_built_are_the_errors_check_gives(course: Path) -> None:
    runner = CliRunner()
    for lesson, code, message in (("9.9", 2, "unknown lesson '9.9'"),
                                  ("1.2", 2, "lesson 1.2 is not built yet: nothing to watch")):
        result = runner.invoke(cli, ["watch", lesson, "--course", str(course)])
        assert result.exit_code == code, result.output
        assert message in result.stderr
        if lesson == "9.9":
            checked = runner.invoke(cli, ["check", lesson, "--course", str(course)])
            assert (checked.exit_code, checked.stderr) == (result.exit_code, result.stderr)


# --- in a terminal ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_in_a_terminal_the_screen_is_redrawn_and_ctrl_c_exits_130(
        course: Path, submission: Path) -> None:
    term = Tmux(watch_command("1.1", "--course", str(course), "--submission",
                              str(submission)), course)
    try:
        first = term.wait_for("Watching ")
        assert "run 1" in first and "Score: 4/4" in first
        editor_save(submission / "1.1" / "calc.py", WRONG)
        second = term.wait_for("run 2")
        second = term.wait_for("Watching ")
        assert "run 1" not in second, "the screen is redrawn, not scrolled"
        lines = [line for line in second.splitlines() if line.strip()]
        assert lines[0].startswith("loopgrader watch 1.1 · run 2")
        assert lines[1] == "Since the last run:"
        assert lines[2].strip().startswith("broke")
        watch_pid = next(iter(descendants(term.pane_pid())))
        below = descendants(watch_pid) | {watch_pid}
        term.keys("C-c")
        done = term.wait_for("EXIT=")
        assert "EXIT=130" in done and "interrupted: stopped watching" in done
        assert not wait_gone(below), "processes outlived the watch"
    finally:
        term.close()


# --- the pure parts ---------------------------------------------------------------------------


def _result(passed: dict[str, bool], lesson: str = "1.1") -> LessonResult:
    tests = tuple(TestResult(name, 1.0 if ok else 0.0, 1.0, ok,
                             message=None if ok else f"{name} is wrong") for name, ok in
                  passed.items())
    return LessonResult.from_tests(lesson, tests, "cpu", 0.1)


def _report(course: Path, passed: dict[str, bool]) -> CheckReport:
    lesson = load_course(course).lesson("1.1")
    return CheckReport("1.1", (LessonCheck(lesson, _result(passed)),), (), "cpu", 0.1)


def test_changes_list_what_became_green_and_what_broke(course: Path) -> None:
    before = _report(course, {"a": True, "b": False, "c": False})
    after = _report(course, {"a": False, "b": True, "c": False, "d": True})
    assert changes_between(before, after) == (Change("1.1", "a", False),
                                              Change("1.1", "b", True))


def test_next_step_comes_once_every_exercise_passes(course: Path) -> None:
    loaded = load_course(course)
    assert next_step(loaded, [loaded.lesson("1.1")], _report(course, {"a": False})) is None
    step = next_step(loaded, [loaded.lesson("1.1")], _report(course, {"a": True}))
    assert step is not None and step.quizzes == () and step.lesson is None  # 1.2 not built


def test_screen_shows_changes_then_failures_then_score_and_fits_a_terminal(
        course: Path) -> None:
    report = _report(course, {f"test {i}": i == 0 for i in range(8)})
    update = Update(3, report, changes=(Change("1.1", "test 0", True),), saved=(),
                    graded=("1.1",), previous_score=0.0)
    full = update_text(update, selector="1.1", root=course)
    assert full.index("now passing  ✓ test 0") < full.index("test 1 is wrong") < \
        full.index("Score: 1/8 points on cpu")
    assert "✓ 1 of 8 tests pass" in full
    short = update_text(update, selector="1.1", root=course, details=1)
    assert "test 1 is wrong" in short and "test 2 is wrong" not in short
    assert "✗   0/1   test 7" in short


def test_syntax_problem_names_the_line_and_never_runs_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calc.py"
    path.write_text("import os\nos.remove(__file__)\ndef f(:\n")
    broken = syntax_problem(path)
    assert broken is not None and broken.line == 3 and path.exists()
    path.write_text("import os\nos.remove(__file__)\n")
    assert syntax_problem(path) is None and path.exists()
    assert syntax_problem(tmp_path / "absent.py") is None


def test_polling_is_chosen_for_file_systems_without_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopgrader.grading import filewatch

    monkeypatch.delenv("WATCHFILES_FORCE_POLLING", raising=False)
    monkeypatch.setattr(filewatch, "_mounts", lambda: [(str(tmp_path), "nfs4"), ("/", "ext4")])
    mode = choose_mode([tmp_path / "1.1"])
    assert mode.polling and "nfs4" in mode.describe()
    monkeypatch.setattr(filewatch, "_mounts", lambda: [("/", "ext4")])
    monkeypatch.setattr(filewatch, "_is_wsl", lambda: False)
    assert not choose_mode([tmp_path]).polling
    assert choose_mode([tmp_path], force_polling=True).polling
    monkeypatch.setenv("WATCHFILES_FORCE_POLLING", "1")
    assert choose_mode([tmp_path]).polling


def test_a_module_watch_points_to_the_next_lesson_it_already_watches(course: Path) -> None:
    loaded = load_course(course)
    report = _report(course, {"a": True})
    later = replace(report, not_started=(loaded.lesson("1.1"),))
    step = next_step(loaded, [loaded.lesson("1.1")], later)
    assert step is not None and step.watched and step.lesson == loaded.lesson("1.1")
    text = update_text(Update(2, later, graded=("1.1",), first_graded=("1.1",), next=step,
                              previous_score=0.0), selector="1", root=course)
    assert "graded for the first time: lesson 1.1" in text
    assert "this watch grades it on save" in text
    assert "Not started yet (graded once you save them): 1.1" in text
