"""The term's calendar: due dates per lesson, the late policy, and what lateness costs.

It lives in ``course.yaml`` under ``calendar:`` (every key optional; a course without one grades
as if nothing were ever late)::

    calendar:
      due:                                  # ISO 8601 with a time zone (offset or Z)
        "1.2": 2026-09-14T23:59:00-04:00
        "2.3": 2026-10-05T23:59:00-04:00
      release:                              # hidden tests' results shown from (default: due)
        "1.2": 2026-09-16T09:00:00-04:00
      late_policy:
        grace_minutes: 15                   # this late still counts as on time
        penalty_per_day: 0.1                # of the lesson's points, per day or part of one
        last_day: 5                         # more than 5 days late scores 0 (omit: never)

Days late are counted from the (extended) due date, a started day counting as a whole one, so
a file 1 hour late (past the grace) is 1 day late. The penalty is ``penalty_per_day`` times the
days late times the lesson's points, never more than the raw score (a final score is never
negative). Pure functions only: reading the files of a run (extensions, submission times) is
the batch's business.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from loopgrader.errors import UsageError

__all__ = [
    "Calendar",
    "LatePolicy",
    "Lateness",
    "ManifestLoader",
    "calendar_problems",
    "lateness",
    "load_calendar",
    "parse_calendar",
    "parse_timestamp",
    "yaml_line",
]

class ManifestLoader(yaml.SafeLoader):
    """YAML's safe loader without its timestamp guessing: dates stay text, so a malformed one
    (``2026-02-30T23:59:00Z``) is this module's clear error, not a crash of the whole file."""


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

CALENDAR_KEYS = {"due", "release", "late_policy"}
POLICY_KEYS = {"grace_minutes", "penalty_per_day", "last_day"}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    """How late work is scored; the default forgives everything."""

    grace: timedelta = timedelta(0)
    penalty_per_day: float = 0.0  # fraction of the lesson's points per day (or part) late
    last_day: int | None = None  # days after the due date; later work scores 0


@dataclass(frozen=True)
class Calendar:
    """Due dates and release times per lesson id, and the late policy."""

    due: Mapping[str, datetime] = field(default_factory=dict)
    release: Mapping[str, datetime] = field(default_factory=dict)
    policy: LatePolicy = LatePolicy()

    @property
    def empty(self) -> bool:
        return not self.due and not self.release

    def feedback_released(self, lesson: str, due: datetime | None, now: datetime,
                          manual: Mapping[str, datetime] | None = None) -> bool:
        """Whether hidden tests' results of ``lesson`` may be shown to a student whose due
        date is ``due`` (extension applied): from a release by hand, else from the calendar's
        ``release`` time, else from the due date. A lesson with none of them shows them (as
        a course without a calendar always has)."""
        by_hand = (manual or {}).get(lesson)
        if by_hand is not None and now >= by_hand:
            return True
        moment = self.release.get(lesson) or due
        if moment is None:
            return by_hand is None
        return now >= moment


@dataclass(frozen=True)
class Lateness:
    """How late one submission was and what it costs."""

    days_late: int  # 0: on time (or within the grace period)
    penalty_fraction: float  # of the lesson's points; 1.0 when past the last day
    closed: bool  # submitted after the last day: scores 0

    def final_score(self, raw: float, max_score: float) -> float:
        """The score after the penalty: never below 0, never above ``raw``."""
        if self.closed:
            return 0.0
        return max(0.0, raw - self.penalty_fraction * max_score)


ON_TIME = Lateness(0, 0.0, False)


def lateness(due: datetime | None, submitted: datetime | None, policy: LatePolicy) -> Lateness:
    """What submitting at ``submitted`` costs against ``due`` (no due date or no known time:
    nothing)."""
    if due is None or submitted is None or submitted <= due + policy.grace:
        return ON_TIME
    days = math.ceil((submitted - due) / DAY)
    if policy.last_day is not None and submitted > due + policy.last_day * DAY:
        return Lateness(days, 1.0, True)
    return Lateness(days, min(1.0, days * policy.penalty_per_day), False)


def parse_timestamp(value: Any) -> datetime:
    """An aware datetime from ISO 8601 text (``Z`` allowed) or a YAML timestamp; ValueError
    (with a sentence to show) for anything without a date, a time and a time zone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise ValueError(f"{value.isoformat()} has no time of day and no time zone; write e.g. "
                         f"{value.isoformat()}T23:59:00+00:00")
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            why = f" ({exc})" if "range" in str(exc) else ""
            raise ValueError(f"{value!r} is not an ISO 8601 date and time{why}; write e.g. "
                             "2026-09-14T23:59:00-04:00") from None
        if "T" not in text.upper() and " " not in text:
            raise ValueError(f"{value!r} has no time of day; write e.g. {text}T23:59:00-04:00")
    else:
        raise ValueError(f"expected an ISO 8601 date and time, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!s} has no time zone; add one, e.g. {parsed.isoformat()}-04:00 "
                         f"or {parsed.isoformat()}Z")
    return parsed.astimezone(timezone.utc)


def parse_calendar(data: Any, lesson_ids: set[str], where: str,
                   problem: Callable[[str], None]) -> Calendar:
    """The ``calendar:`` section of the manifest (``data`` may be None); each problem is reported
    as ``<where>: calendar.<key>: expected …, got …`` and skipped."""
    if data is None:
        return Calendar()
    if not isinstance(data, dict):
        problem(f"{where}: calendar: expected a mapping with due, release, late_policy, got "
                f"{data!r}")
        return Calendar()
    for key in sorted(set(data) - CALENDAR_KEYS, key=str):
        problem(f"{where}: calendar.{key}: unknown key; expected one of "
                f"{', '.join(sorted(CALENDAR_KEYS))}")
    due = _dates(data.get("due"), "due", lesson_ids, where, problem)
    release = _dates(data.get("release"), "release", lesson_ids, where, problem)
    return Calendar(due, release, _policy(data.get("late_policy"), where, problem))


def _dates(data: Any, key: str, lesson_ids: set[str], where: str,
           problem: Callable[[str], None]) -> dict[str, datetime]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problem(f"{where}: calendar.{key}: expected a mapping of lesson id to date and time, "
                f"got {data!r}")
        return {}
    found: dict[str, datetime] = {}
    for lesson, value in data.items():
        name = str(lesson)
        if name not in lesson_ids:
            problem(f"{where}: calendar.{key}.{name}: unknown lesson (quote ids: \"1.2\"); "
                    f"lessons: {', '.join(sorted(lesson_ids))}")
            continue
        try:
            found[name] = parse_timestamp(value)
        except ValueError as exc:
            problem(f"{where}: calendar.{key}.{name}: {exc}")
    return found


def _policy(data: Any, where: str, problem: Callable[[str], None]) -> LatePolicy:
    if data is None:
        return LatePolicy()
    if not isinstance(data, dict):
        problem(f"{where}: calendar.late_policy: expected a mapping with "
                f"{', '.join(sorted(POLICY_KEYS))}, got {data!r}")
        return LatePolicy()
    for key in sorted(set(data) - POLICY_KEYS, key=str):
        problem(f"{where}: calendar.late_policy.{key}: unknown key; expected one of "
                f"{', '.join(sorted(POLICY_KEYS))}")
    grace = _number(data, "grace_minutes", 0.0, where, problem, upper=None)
    penalty = _number(data, "penalty_per_day", 0.0, where, problem, upper=1.0)
    last = data.get("last_day")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        problem(f"{where}: calendar.late_policy.last_day: expected a whole number of days "
                f"after the due date (>= 0), got {last!r}")
        last = None
    return LatePolicy(timedelta(minutes=grace), penalty, last)


def _number(data: dict[str, Any], key: str, default: float, where: str,
            problem: Callable[[str], None], *, upper: float | None) -> float:
    value = data.get(key, default)
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
        or (upper is not None and value > upper)
    if bad:
        bound = f"between 0 and {upper:g}" if upper is not None else ">= 0"
        problem(f"{where}: calendar.late_policy.{key}: expected a number {bound}, got {value!r}")
        return default
    return float(value)


def calendar_problems(manifest: Path, lesson_ids: set[str]) -> list[str]:
    """Every problem of the manifest's calendar, each with its line (for ``validate``)."""
    try:
        text = manifest.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=ManifestLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # the manifest's own loader reports an unreadable file
    problems: list[str] = []
    section = data.get("calendar") if isinstance(data, dict) else None
    parse_calendar(section, lesson_ids, str(manifest), problems.append)
    return [_with_line(text, manifest, item) for item in problems]


def _with_line(text: str, manifest: Path, item: str) -> str:
    prefix = f"{manifest}: "
    key = item[len(prefix):].split(":", 1)[0]
    line = yaml_line(text, key.split(".", 2))
    return f"{manifest}:{line}: {item[len(prefix):]}" if line else item


def yaml_line(text: str, keys: list[str]) -> int | None:
    """The 1-based line of the value at ``keys`` (mapping keys, outermost first) in a YAML
    document, or of the deepest key found; None if even the first is missing."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if str(k.value) == key), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line


def load_calendar(manifest: Path, lesson_ids: set[str]) -> Calendar:
    """The manifest's calendar for a grading run; a UsageError (exit 2) lists every problem
    with its line, so that nothing is graded against a wrong date."""
    problems = calendar_problems(manifest, lesson_ids)
    if problems:
        raise UsageError("the course calendar has problems:\n" + "\n".join(problems),
                         hint=f"fix the calendar section of {manifest} (dates like "
                              "2026-09-14T23:59:00-04:00) and run `loopgrader validate`")
    data = yaml.load(manifest.read_text(encoding="utf-8"), Loader=ManifestLoader)
    section = data.get("calendar") if isinstance(data, dict) else None
    return parse_calendar(section, lesson_ids, str(manifest), lambda _: None)
