"""Runs the graders of some lessons on one submission, in a trusted pytest process forked from a
grader host (see ``_host``).

The grader process is configured only by us: a clean working folder, our own ini file, plugin
auto-loading off (the plugins it needs are named), no PYTEST_* variables, and a run plan with
absolute paths. The student's code never runs here or there, only in the workers the plugin
starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loopgrader.course.catalog import Course, Lesson
from loopgrader.course.stubs import stub_fingerprints
from loopgrader.course.submission import LessonSource, lesson_source
from loopgrader.errors import CourseError, LoopgraderError
from loopgrader.grading.plan import LessonPlan, RunPlan
from loopgrader.grading.results import parse_report
from loopgrader.records.result import LessonResult
from loopgrader.sandbox.host import GraderHost
from loopgrader.sandbox.isolation import detect_isolation, hidden_paths
from loopgrader.sandbox.limits import Limits, default_limits

__all__ = [
    "GradeRun",
    "GraderTimeout",
    "RunOptions",
    "collect_points",
    "grade_lessons",
    "grader_environment",
    "new_host",
    "run_graders",
]

PLUGINS = ("pytest_jsonreport.plugin", "pytest_timeout", "loopgrader.grading.plugin")
INI = "[pytest]\naddopts =\nconsole_output_style = classic\n"
# Plugins a grader run does not need; the first two end every run with full garbage collections
# (slow with torch loaded). Messages come from our plugin, so native tracebacks are enough.
SKIPPED_PLUGINS = ("-p", "no:unraisableexception", "-p", "no:threadexception",
                   "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:doctest")


class GraderTimeout(LoopgraderError):
    """A whole grader run took longer than its budget and was stopped."""


@dataclass(frozen=True)
class GradeRun:
    """Results of one grader run, with the grader process's own output for --debug."""

    results: dict[str, LessonResult]
    log: str
    duration_s: float
    isolation: str = "limits"
    sources: dict[str, LessonSource] = field(default_factory=dict)  # the file graded per lesson


@dataclass(frozen=True)
class RunOptions:
    """How student code is run: device, isolation level and limits (the per-call timeout and
    the lesson's budget among them)."""

    device: str = "auto"
    isolation: str = "limits"
    limits: Limits = field(default_factory=Limits)
    hidden_paths: tuple[str, ...] = ()
    run_budget: float = 0.0  # wall seconds for the whole grader run (0: from the timeout)

    def budget(self, lessons: int) -> float:
        return self.run_budget or max(600.0, self.limits.call_seconds * 40) * max(1, lessons)


def grader_environment() -> dict[str, str]:
    """The caller's environment without anything that would configure pytest or Python."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and not (k.startswith("PYTHON") and k != "PYTHONPATH")}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONSAFEPATH="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def new_host(*, optimizers: bool = True, cpus: tuple[int, ...] = ()) -> GraderHost:
    """A grader host (not started yet) with the grader environment. ``optimizers``: it and its
    workers preload what torch.optim needs (1-2 s once, instead of in every run and worker that
    builds an optimizer); lessons that build none start faster without. ``cpus``: the host,
    its grader runs and all their workers run on these CPUs only (a batch's job slot)."""
    return GraderHost(grader_environment(), optimizers=optimizers, cpus=cpus)


def may_build_optimizers(lessons: Sequence[Lesson]) -> bool:
    """Whether grading ``lessons`` is likely to build torch optimizers: one of them has graders
    or a reference that mention them. Only speed depends on it (see :func:`new_host`)."""
    for lesson in lessons:
        files = list(lesson.graders_dir.glob("*.py"))
        if lesson.reference is not None:
            files.append(lesson.reference)
        for path in files:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return True
            if "optim" in text or "lr_scheduler" in text:
                return True
    return False


def lesson_plan(lesson: Lesson, submission_root: Path, source: LessonSource | None = None,
                work: Path | None = None) -> LessonPlan:
    """Where the graders, reference and student's file of ``lesson`` are. A notebook's
    converted source is written under ``work`` and graded in its place."""
    submitted = source.path if source is not None else lesson.submitted_file(submission_root)
    student_file = str(submitted.resolve()) if submitted and submitted.is_file() else None
    load_error = None
    if source is not None and source.is_notebook and work is not None:
        load_error, student_file = source.error, None
        if source.source is not None:
            code = work / "notebooks" / lesson.id / source.code_name
            code.parent.mkdir(parents=True, exist_ok=True)
            code.write_text(source.source, encoding="utf-8")
            student_file = str(code)
    return LessonPlan(
        lesson=lesson.id,
        graders_dir=str(lesson.graders_dir.resolve()),
        student_file=student_file,
        reference_file=str(lesson.reference.resolve()) if lesson.reference else None,
        probe_files=tuple(str(p.resolve()) for p in lesson.probes),
        load_error=load_error,
    )


def grade_lessons(course: Course, lessons: Sequence[Lesson], submission_root: Path, *,
                  device: str = "auto", timeout: float = 60.0,
                  host: GraderHost | None = None, isolation: str = "limits") -> GradeRun:
    """Grade ``lessons`` (which must have graders) of the submission at ``submission_root``,
    each call into student code limited to ``timeout`` seconds (see :func:`default_limits`).

    Without ``host``, a grader host is started for this one run; a batch (and ``watch``) keeps
    hosts and runs each submission on one of them (the same code path).
    """
    level = detect_isolation(isolation)
    hidden = hidden_paths([course.root]) if level == "namespaces" else ()
    options = RunOptions(device=device, limits=default_limits(timeout), isolation=level,
                         hidden_paths=hidden)
    if host is not None:
        return run_graders(host, course, lessons, submission_root, options)
    with new_host(optimizers=may_build_optimizers(lessons)) as fresh:
        return run_graders(fresh, course, lessons, submission_root, options)


def run_graders(host: GraderHost, course: Course, lessons: Sequence[Lesson],
                submission_root: Path, options: RunOptions,
                sources: Mapping[str, LessonSource] | None = None) -> GradeRun:
    """One grader run on ``host``: every test of ``lessons`` on one submission. ``sources``:
    the file chosen (and notebook converted) for each lesson, when the caller already has them
    (a batch decides them for every student before grading)."""
    if sources is None:
        stubs = stub_fingerprints(course)
        sources = {lesson.id: lesson_source(lesson, submission_root, stubs) for lesson in lessons}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="loopgrader-run-") as tmp:
        plan = RunPlan(lessons={lesson.id: lesson_plan(lesson, submission_root,
                                                       sources[lesson.id], Path(tmp))
                                for lesson in lessons},
                       device=options.device, limits=options.limits,
                       isolation=options.isolation, hidden_paths=options.hidden_paths)
        # The plan and the report never touch this folder: the host keeps them in memory files
        # of the grader run (see sandbox.host), out of every worker's reach.
        work = _work_folder(Path(tmp), None)
        args = _pytest_args(course, lessons, work, options.limits.call_seconds)
        outcome = host.run(args, work, work / "grader.log", options.budget(len(lessons)),
                           plan=plan.to_json())
        log = _read_log(work / "grader.log")
        if outcome.timed_out:
            raise GraderTimeout(f"grading took longer than {options.budget(len(lessons)):g} s "
                                "and was stopped")
        report = _checked_report(outcome.report, log)
    _raise_on_collection_errors(report)
    results = parse_report(report, [lesson.id for lesson in lessons])
    results = {key: _translated(result, sources.get(key)) for key, result in results.items()}
    return GradeRun(results, log, time.perf_counter() - started, options.isolation, dict(sources))


def _translated(result: LessonResult, source: LessonSource | None) -> LessonResult:
    """A notebook's results with lines of its converted code shown as cells and lines."""
    if source is None or not source.is_notebook:
        return result

    def text(value: str | None) -> str | None:
        return None if value is None else source.translate(value)

    tests = tuple(replace(t, message=text(t.message), hint=text(t.hint)) for t in result.tests)
    return replace(result, tests=tests, import_error=text(result.import_error),
                   missing_file=text(result.missing_file))


def _work_folder(work: Path, plan: RunPlan | None) -> Path:
    """Fill a grader run's working folder with our ini and, for a run without a host, its plan
    (what ``_base_args`` names)."""
    if plan is not None:
        plan.write(work / "plan.json")
    (work / "pytest.ini").write_text(INI, encoding="utf-8")
    return work


def _base_args(course: Course, lessons: Sequence[Lesson], work: Path,
               plan: str = "{plan}") -> list[str]:
    """The pytest arguments every grader run shares: our graders, ini, root and plan (on a
    host, ``{plan}``: a memory file of the run)."""
    return [*[str(lesson.graders_dir) for lesson in lessons],
            "-p", "no:cacheprovider", "-c", str(work / "pytest.ini"),
            "--rootdir", str(course.root), "--confcutdir", str(course.root / "graders"),
            "--loopgrader-plan", plan]


def _pytest_args(course: Course, lessons: Sequence[Lesson], work: Path,
                 timeout: float) -> list[str]:
    plugins = [arg for name in PLUGINS for arg in ("-p", name)]
    return [
        *_base_args(course, lessons, work), *plugins, "--json-report",
        "--json-report-file", "{report}", "--json-report-omit", "keywords", "streams", "log",
        "--timeout", str(int(timeout * 3 + 30)), "-q", "--no-header", "-rN", "--tb=native",
        "-W", "ignore::DeprecationWarning", *SKIPPED_PLUGINS,
    ]


def _read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _checked_report(data: dict[str, Any] | None, log: str) -> dict[str, object]:
    if data is None:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise LoopgraderError(f"the grader process ended without a report:\n{tail}",
                              hint="run again with --debug and report this")
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
    with tempfile.TemporaryDirectory(prefix="loopgrader-collect-") as tmp:
        work = _work_folder(Path(tmp), plan)
        command = [sys.executable, "-m", "pytest",
                   *_base_args(course, lessons, work, str(work / "plan.json")),
                   "-p", "loopgrader.grading.plugin", "--collect-only", "-q",
                   "--loopgrader-points-out", str(work / "points.json")]
        proc = subprocess.run(command, cwd=work, env=grader_environment(), capture_output=True,
                              text=True, timeout=600, check=False)
        try:
            return {k: float(v) for k, v in
                    json.loads((work / "points.json").read_text(encoding="utf-8")).items()}
        except (OSError, ValueError):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise CourseError(f"the graders could not be collected:\n{tail}") from None
