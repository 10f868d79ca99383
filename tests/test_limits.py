"""One Limits value carries what student code may use, from the command line to the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import loopgrader.cli.batch as cli_batch
from loopgrader.batch.grade import BatchOptions, BatchSummary, batch_limits
from loopgrader.grading.plan import LessonPlan, RunPlan
from loopgrader.grading.runner import RunOptions
from loopgrader.sandbox.limits import Limits, default_limits

REPO = Path(__file__).resolve().parents[1]


def test_a_batch_gets_four_gib_on_cpu_and_a_lesson_budget() -> None:
    limits = batch_limits("cpu", 10)
    assert (limits.call_seconds, limits.lesson_seconds, limits.memory_bytes) == \
        (10, 50, 4 << 30)
    assert limits.cpu_seconds == 600
    assert batch_limits("cuda", 60).memory_bytes == 0  # accelerators map far more
    assert batch_limits("cpu", 2, memory_bytes=0).memory_bytes == 0  # --memory-mb 0: none
    assert batch_limits("cpu", 2).lesson_seconds == 30


def test_check_gets_no_lesson_budget_and_a_cpu_cap_of_twenty_calls() -> None:
    limits = default_limits(120)
    assert (limits.call_seconds, limits.lesson_seconds, limits.cpu_seconds,
            limits.memory_bytes) == (120, 0, 2400, 0)
    assert RunOptions(limits=limits).budget(2) == 2 * 4800


def test_limits_travel_whole_through_the_run_plan(tmp_path: Path) -> None:
    limits = Limits(call_seconds=2.5, lesson_seconds=12.5, cpu_seconds=60,
                    memory_bytes=1 << 30, processes=8)
    plan = RunPlan({"1.1": LessonPlan("1.1", "/g", "/s", None)}, limits=limits)
    plan.write(tmp_path / "plan.json")
    assert RunPlan.read(tmp_path / "plan.json").limits == limits
    assert Limits.from_dict({"memory_bytes": "5", "unknown": 1}) == Limits(memory_bytes=5)


def test_grade_hands_its_options_to_the_batch_as_one_limits_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[BatchOptions] = []

    def fake_grade(course: object, options: BatchOptions, listener: object) -> BatchSummary:
        seen.append(options)
        return BatchSummary()

    monkeypatch.setattr(cli_batch, "grade_batch", fake_grade)
    monkeypatch.setattr(cli_batch, "export_gradebook", lambda *a, **k: None)
    subs = tmp_path / "subs"
    subs.mkdir()
    result = CliRunner().invoke(cli_batch.grade_command, [
        str(subs), "--out", str(tmp_path / "out"), "--course", str(REPO), "--timeout", "7",
        "--memory-mb", "100"])
    assert result.exit_code == 0, result.output
    assert seen[0].limits == batch_limits("cpu", 7, 100 << 20)
