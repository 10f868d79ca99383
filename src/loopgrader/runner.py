"""Runs the graders of some lessons on one submission, in a separate trusted pytest process.

The grader process is configured only by us: a clean working folder, our own ini file, plugin
auto-loading off (the plugins it needs are named), no PYTEST_* variables, and a run plan with
absolute paths. The student's code never runs here or there, only in the workers the plugin
starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopgrader.catalog import Course, Lesson
from loopgrader.errors import CourseError, LoopgraderError
from loopgrader.plan import LessonPlan, RunPlan
from loopgrader.results import LessonResult, parse_report

__all__ = ["GradeRun", "collect_points", "grade_lessons", "grader_environment"]

PLUGINS = ("pytest_jsonreport.plugin", "pytest_timeout", "loopgrader.pytest_plugin")
INI = "[pytest]\naddopts =\nconsole_output_style = classic\n"


@dataclass(frozen=True)
class GradeRun:
    """Results of one grader run, with the grader process's own output for --debug."""

    results: dict[str, LessonResult]
    log: str
    duration_s: float


def grader_environment() -> dict[str, str]:
    """The caller's environment without anything that would configure pytest or Python."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and not (k.startswith("PYTHON") and k != "PYTHONPATH")}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONSAFEPATH="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def lesson_plan(lesson: Lesson, submission_root: Path) -> LessonPlan:
    """Where the graders, reference and student's file of ``lesson`` are."""
    submitted = lesson.submitted_file(submission_root)
    return LessonPlan(
        lesson=lesson.id,
        graders_dir=str(lesson.graders_dir.resolve()),
        student_file=str(submitted.resolve()) if submitted and submitted.is_file() else None,
        reference_file=str(lesson.reference.resolve()) if lesson.reference else None,
        probe_files=tuple(str(p.resolve()) for p in lesson.probes),
    )


@contextlib.contextmanager
def _pytest_run(course: Course, lessons: Sequence[Lesson], plan: RunPlan,
                extra: Callable[[Path], list[str]],
                wall_s: float) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """Run pytest on the lessons' graders with our plan and ini; yield its folder and result."""
    with tempfile.TemporaryDirectory(prefix="loopgrader-run-") as tmp:
        work = Path(tmp)
        plan.write(work / "plan.json")
        (work / "pytest.ini").write_text(INI, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", *[str(lesson.graders_dir) for lesson in lessons],
                   "-p", "no:cacheprovider", "-c", str(work / "pytest.ini"),
                   "--rootdir", str(course.root), "--confcutdir", str(course.root / "graders"),
                   "--loopgrader-plan", str(work / "plan.json"), *extra(work)]
        proc = subprocess.run(command, cwd=work, env=grader_environment(), capture_output=True,
                              text=True, timeout=wall_s, check=False)
        yield work, proc


def grade_lessons(course: Course, lessons: Sequence[Lesson], submission_root: Path, *,
                  device: str = "auto", timeout: float = 60.0,
                  memory_bytes: int = 0) -> GradeRun:
    """Grade ``lessons`` (which must have graders) of the submission at ``submission_root``."""
    plan = RunPlan(lessons={lesson.id: lesson_plan(lesson, submission_root) for lesson in lessons},
                   device=device, timeout=timeout, memory_bytes=memory_bytes)
    started = time.perf_counter()
    plugins = [arg for name in PLUGINS for arg in ("-p", name)]

    def extra(work: Path) -> list[str]:
        return [*plugins, "--json-report", "--json-report-file", str(work / "report.json"),
                "--json-report-omit", "keywords", "streams", "log",
                "--timeout", str(int(timeout * 3 + 30)), "-q", "--no-header", "-rN",
                "--tb=short", "-W", "ignore::DeprecationWarning"]

    with _pytest_run(course, lessons, plan, extra, max(600.0, timeout * 40)) as (work, proc):
        log = proc.stdout + proc.stderr
        report = _read_report(work / "report.json", log)
    _raise_on_collection_errors(report)
    results = parse_report(report, [lesson.id for lesson in lessons])
    return GradeRun(results, log, time.perf_counter() - started)


def _read_report(path: Path, log: str) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise LoopgraderError(f"the grader process ended without a report:\n{tail}",
                              hint="run again with --debug and report this") from None
    if not isinstance(data, dict):
        raise LoopgraderError("the grader process wrote an unreadable report")
    return data


def _raise_on_collection_errors(report: dict[str, object]) -> None:
    collectors = report.get("collectors")
    broken = [c for c in collectors if isinstance(c, dict) and c.get("outcome") == "failed"] \
        if isinstance(collectors, list) else []
    if broken:
        details = "\n".join(f"{c.get('nodeid')}: {str(c.get('longrepr', ''))[-600:]}"
                            for c in broken)
        raise CourseError(f"the graders could not be collected:\n{details}",
                          hint="this is a problem with the course, not with the submission")


def collect_points(course: Course, lessons: Sequence[Lesson]) -> dict[str, float]:
    """Each lesson's total points as its graders declare them (collection only, no grading)."""
    plan = RunPlan(lessons={lesson.id: lesson_plan(lesson, course.root / "exercises")
                            for lesson in lessons})

    def extra(work: Path) -> list[str]:
        return ["-p", "loopgrader.pytest_plugin", "--collect-only", "-q",
                "--loopgrader-points-out", str(work / "points.json")]

    with _pytest_run(course, lessons, plan, extra, 600.0) as (work, proc):
        try:
            return {k: float(v) for k, v in
                    json.loads((work / "points.json").read_text(encoding="utf-8")).items()}
        except (OSError, ValueError):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise CourseError(f"the graders could not be collected:\n{tail}") from None
