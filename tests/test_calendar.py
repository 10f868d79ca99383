"""The course calendar: due dates, the late policy, penalties, and validate's messages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from loopgrader.course.calendar import (
    LatePolicy,
    calendar_problems,
    lateness,
    load_calendar,
    parse_timestamp,
)
from loopgrader.errors import EXIT_USAGE, UsageError

UTC = timezone.utc
DUE = datetime(2026, 9, 15, 3, 59, tzinfo=UTC)
POLICY = LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.1, last_day=5)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-09-14T23:59:00-04:00", DUE),
    ("2026-09-15T03:59:00Z", DUE),
    ("2026-09-15 03:59:00+00:00", DUE),
], ids=["offset", "zulu", "space"])
def test_timestamps_with_a_zone_parse_to_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected
    assert parse_timestamp(text).tzinfo == UTC


@pytest.mark.parametrize(("text", "says"), [
    ("2026-09-14T23:59:00", "no time zone"),
    ("2026-09-14", "no time of day"),
    ("14/09/2026 23:59", "not an ISO 8601"),
    ("", "not an ISO 8601"),
], ids=["naive", "date-only", "european", "empty"])
def test_timestamps_without_date_time_and_zone_are_refused(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_timestamp(text)


@pytest.mark.parametrize(("late_by", "days", "fraction", "closed"), [
    (timedelta(hours=-3), 0, 0.0, False),
    (timedelta(minutes=15), 0, 0.0, False),  # within the grace period
    (timedelta(minutes=16), 1, 0.1, False),  # past the grace: a started day counts
    (timedelta(hours=23), 1, 0.1, False),
    (timedelta(days=1, seconds=1), 2, 0.2, False),
    (timedelta(days=5), 5, 0.5, False),
    (timedelta(days=5, seconds=1), 6, 1.0, True),  # past the last day
])
def test_lateness_counts_started_days_past_the_grace(late_by: timedelta, days: int,
                                                     fraction: float, closed: bool) -> None:
    result = lateness(DUE, DUE + late_by, POLICY)
    assert (result.days_late, result.closed) == (days, closed)
    assert result.penalty_fraction == pytest.approx(fraction)


def test_penalty_is_a_fraction_of_the_points_and_never_makes_a_score_negative() -> None:
    two_days = lateness(DUE, DUE + timedelta(days=2), POLICY)
    assert two_days.final_score(18.0, 20.0) == pytest.approx(14.0)  # 18 - 0.2 * 20
    assert two_days.final_score(3.0, 20.0) == 0.0
    closed = lateness(DUE, DUE + timedelta(days=9), POLICY)
    assert closed.final_score(20.0, 20.0) == 0.0


def test_no_due_date_or_no_time_costs_nothing() -> None:
    assert lateness(None, DUE, POLICY).final_score(7.0, 10.0) == 7.0
    assert lateness(DUE, None, POLICY).days_late == 0


def test_no_last_day_caps_the_penalty_at_the_whole_points() -> None:
    policy = LatePolicy(penalty_per_day=0.3)
    assert lateness(DUE, DUE + timedelta(days=10), policy).penalty_fraction == 1.0


def _manifest(tmp_path: Path, calendar: str) -> Path:
    path = tmp_path / "course.yaml"
    path.write_text("title: T\nmodules: {1: M}\nlessons:\n"
                    '  - {id: "1.2", title: L, file: x.py, points: 3}\n' + calendar,
                    encoding="utf-8")
    return path


def test_a_valid_calendar_loads(tmp_path: Path) -> None:
    path = _manifest(tmp_path, 'calendar:\n  due:\n    "1.2": 2026-09-14T23:59:00-04:00\n'
                     '  release:\n    "1.2": 2026-09-16T09:00:00Z\n'
                     "  late_policy: {grace_minutes: 15, penalty_per_day: 0.1, last_day: 5}\n")
    assert calendar_problems(path, {"1.2"}) == []
    calendar = load_calendar(path, {"1.2"})
    assert calendar.due["1.2"] == DUE
    assert calendar.release["1.2"] == datetime(2026, 9, 16, 9, tzinfo=UTC)
    assert calendar.policy == POLICY


def test_a_course_without_a_calendar_has_an_empty_one(tmp_path: Path) -> None:
    calendar = load_calendar(_manifest(tmp_path, ""), {"1.2"})
    assert calendar.empty and calendar.policy == LatePolicy()


def test_problems_name_file_line_key_and_fix(tmp_path: Path) -> None:
    path = _manifest(tmp_path, 'calendar:\n  due:\n    "1.2": 2026-09-14T23:59:00\n'
                     '    "9.9": 2026-09-14T23:59:00Z\n'
                     "  late_policy:\n    penalty_per_day: 10%\n    last_day: -1\n"
                     "    grace: 5\n")
    problems = calendar_problems(path, {"1.2"})
    assert len(problems) == 5
    assert any(p.startswith(f"{path}:7: calendar.due.1.2: ") and "no time zone" in p
               and "2026-09-14T23:59:00-04:00" in p for p in problems), problems
    assert any(p.startswith(f"{path}:8: calendar.due.9.9: unknown lesson") for p in problems)
    assert any(p.startswith(f"{path}:10: calendar.late_policy.penalty_per_day: expected a "
                            "number between 0 and 1, got '10%'") for p in problems)
    assert any(p.startswith(f"{path}:11: calendar.late_policy.last_day: expected a whole")
               for p in problems)
    assert any(p.startswith(f"{path}:12: calendar.late_policy.grace: unknown key")
               for p in problems)
    with pytest.raises(UsageError) as caught:
        load_calendar(path, {"1.2"})
    assert caught.value.exit_code == EXIT_USAGE
    assert "run `loopgrader validate`" in str(caught.value)


def test_hidden_feedback_is_released_after_the_due_date_or_by_hand() -> None:
    from loopgrader.course.calendar import Calendar

    calendar = Calendar(due={"1.2": DUE}, release={"2.3": DUE + timedelta(days=3)})
    before, after = DUE - timedelta(minutes=1), DUE + timedelta(minutes=1)
    assert not calendar.feedback_released("1.2", DUE, before)
    assert calendar.feedback_released("1.2", DUE, after)
    extended = DUE + timedelta(days=2)
    assert not calendar.feedback_released("1.2", extended, after)  # the student's own date
    assert calendar.feedback_released("1.2", extended, after, {"1.2": before})  # by hand
    assert not calendar.feedback_released("1.2", DUE, before, {"1.2": after})  # not yet
    assert not calendar.feedback_released("2.3", DUE, after)  # its release time rules
    assert calendar.feedback_released("2.3", DUE, DUE + timedelta(days=3))
    assert calendar.feedback_released("1.1", None, before)  # no date: as without a calendar
    assert not calendar.feedback_released("1.1", None, before, {"1.1": after})


def test_gradescope_bundle_shows_hidden_tests_after_the_due_date(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from loopgrader.course.catalog import load_course
    from loopgrader.dist.gradescope_run import _hidden_after_due_date

    def report(lessons: dict[str, int]) -> SimpleNamespace:
        return SimpleNamespace(checks=[
            SimpleNamespace(lesson=SimpleNamespace(id=lesson),
                            exercise=SimpleNamespace(tests=[object()] * count))
            for lesson, count in lessons.items()])

    def results() -> dict[str, list[dict[str, str]]]:
        return {"tests": [{"visibility": "visible"}, {"visibility": "hidden"},
                          {"visibility": "hidden"}, {"visibility": "visible"}]}

    manifest = _manifest(tmp_path, "")
    text = manifest.read_text().replace(
        '  - {id: "1.2", title: L, file: x.py, points: 3}\n',
        '  - {id: "1.2", title: L, file: x.py, points: 3}\n'
        '  - {id: "1.3", title: M, file: y.py, points: 3}\n')
    manifest.write_text(text)
    plain = results()
    _hidden_after_due_date(load_course(tmp_path), report({"1.2": 2, "1.3": 1}), plain)
    assert [t["visibility"] for t in plain["tests"]] == ["visible", "hidden", "hidden",
                                                          "visible"]  # no calendar: as before
    manifest.write_text(text + 'calendar:\n  due:\n    "1.2": 2026-09-14T23:59:00Z\n')
    dated = results()
    _hidden_after_due_date(load_course(tmp_path), report({"1.2": 2, "1.3": 1}), dated)
    assert [t["visibility"] for t in dated["tests"]] == ["visible", "after_due_date",
                                                          "after_published", "visible"]


def test_validate_reports_calendar_problems_with_their_line(tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from loopgrader.cli.main import cli

    course = tmp_path / "course"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "mini", course)
    manifest = course / "course.yaml"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([*lines, "calendar:", "  due:",
                                   '    "1.1": 2026-02-30T23:59:00Z', ""]))
    result = CliRunner().invoke(cli, ["validate", "--course", str(course)])
    assert result.exit_code == 3, result.output
    assert (f"{manifest}:{len(lines) + 3}: calendar.due.1.1: '2026-02-30T23:59:00Z' is not an "
            "ISO 8601 date and time (day is out of range for month)") in result.output
