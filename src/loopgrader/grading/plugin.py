"""The pytest plugin graders run under: the trusted side of every check.

It starts the worker server as early as possible (so torch is imported there while pytest
imports it here), gives tests a ``student`` fixture whose calls cross into the sandboxed worker,
a ``reference`` fixture (the reference solution, imported here and never in the worker), the
``device`` under test, and the ``points``/``hint``/``visibility`` markers. It turns every failure
into a message for students and hands results to pytest-json-report as metadata.
"""

from __future__ import annotations

import importlib.util
import json
import types
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopgrader.checks.failures import (
    GradingFailure,
    IntegrityViolation,
    StudentError,
    StudentFileMissing,
    StudentImportError,
)
from loopgrader.checks.integrity import rejected_source
from loopgrader.checks.student import Student
from loopgrader.grading.plan import LessonPlan, RunPlan
from loopgrader.sandbox.forkserver import start_worker_server
from loopgrader.sandbox.limits import Limits
from loopgrader.status import Category

if TYPE_CHECKING:  # torch is imported only after the worker server has started
    import torch

    from loopgrader.sandbox.client import StudentProcess

__all__ = ["StudentModule"]

_SESSION = pytest.StashKey["_Session"]()
_EXTRAS = pytest.StashKey[dict[str, Any]]()
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class StudentModule:
    """The student's module as graders see it: attribute calls run in the worker."""

    def __init__(self, process: StudentProcess) -> None:
        self._process = process

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def remote(*args: Any, **kwargs: Any) -> Any:
            return self._process.call(name, *args, **kwargs)

        remote.__name__ = name
        return remote

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the lesson's worker-side helper ``name`` (from ``probes.py``) on the module."""
        return self._process.probe(name, *args, **kwargs)

    def timed_probe(self, timeout: float, name: str, *args: Any,
                    **kwargs: Any) -> tuple[Any, float]:
        """Like :meth:`probe` with its own timeout; returns (value, wall seconds)."""
        return self._process.timed_probe(timeout, name, *args, **kwargs)

    @property
    def file_name(self) -> str:
        return self._process.display_name


class _Session:
    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.ctx = start_worker_server()
        import torch

        from loopgrader.probes.devices import resolve_device

        torch.set_num_threads(1)
        self.device = resolve_device(plan.device)
        self.processes: dict[str, StudentProcess] = {}
        self.import_errors: dict[str, str | None] = {}
        self.import_failures: dict[str, GradingFailure] = {}
        self.references: dict[str, types.ModuleType] = {}
        self.rejections: dict[str, IntegrityViolation | None] = {}

    def check_source(self, lesson: LessonPlan, file: Path) -> None:
        """Course-wide source rules: a file that could undo the graders' checks is not run."""
        if lesson.lesson not in self.rejections:
            self.rejections[lesson.lesson] = rejected_source(file)
        rejected = self.rejections[lesson.lesson]
        if rejected is not None:
            raise IntegrityViolation(rejected.message, hint=rejected.hint)

    def student(self, lesson: LessonPlan) -> StudentModule:
        if lesson.load_error is not None:  # a notebook that could not be read
            self.import_errors[lesson.lesson] = lesson.load_error
            raise StudentImportError(lesson.load_error)
        if lesson.student_file is None:
            raise StudentFileMissing(
                f"no file to grade for lesson {lesson.lesson}: the submission has no "
                f"{lesson.lesson}/ file the lesson asks for",
                hint=f"copy the stub from exercises/{lesson.lesson}/ and work in it")
        self.check_source(lesson, Path(lesson.student_file))
        process = self.processes.get(lesson.lesson)
        if process is None:
            process = self._worker(Path(lesson.student_file), lesson, self.plan.limits)
            self.processes[lesson.lesson] = process
            try:
                self.import_errors[lesson.lesson] = process.import_error()
            except GradingFailure as failure:  # a hang or a crash while importing
                self.import_failures[lesson.lesson] = failure
                self.import_errors[lesson.lesson] = failure.message
        earlier = self.import_failures.get(lesson.lesson)
        if earlier is not None:
            raise type(earlier)(earlier.message, hint=earlier.hint)
        error = self.import_errors[lesson.lesson]
        if error is not None:
            raise StudentImportError(error)
        return StudentModule(process)

    def _worker(self, file: Path, lesson: LessonPlan, limits: Limits) -> StudentProcess:
        from loopgrader.sandbox.client import StudentProcess
        from loopgrader.sandbox.isolation import SandboxSpec

        sandbox = SandboxSpec(self.plan.isolation, limits, self.plan.hidden_paths)
        return StudentProcess(self.ctx, file, tuple(Path(p) for p in lesson.probe_files),
                              sandbox=sandbox)

    def reference_worker(self, lesson: LessonPlan) -> StudentModule:
        key = f"reference:{lesson.lesson}"
        if key not in self.processes:
            if lesson.reference_file is None:
                raise RuntimeError(f"lesson {lesson.lesson} has no reference solution")
            # the reference's calls are not counted against a lesson's total
            limits = replace(self.plan.limits, lesson_seconds=0.0)
            self.processes[key] = self._worker(Path(lesson.reference_file), lesson, limits)
        return StudentModule(self.processes[key])

    def reference(self, lesson: LessonPlan) -> types.ModuleType:
        if lesson.reference_file is None:
            raise RuntimeError(f"lesson {lesson.lesson} has no reference solution")
        if lesson.lesson not in self.references:
            name = f"loopgrader_reference_{uuid.uuid4().hex}"
            spec = importlib.util.spec_from_file_location(name, lesson.reference_file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.references[lesson.lesson] = module
        return self.references[lesson.lesson]

    def close(self) -> None:
        for process in self.processes.values():
            process.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loopgrader")
    group.addoption("--loopgrader-plan", default=None, help="run plan written by loopgrader")
    group.addoption("--loopgrader-points-out", default=None,
                    help="with --collect-only: write each lesson's total points here (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this test is worth (default 1)")
    config.addinivalue_line("markers", "hint(text): shown to the student when the test fails")
    config.addinivalue_line("markers", "visibility(v): visible (default) or hidden")
    plan_path = config.getoption("--loopgrader-plan")
    if plan_path and not config.option.collectonly:
        session = _Session(RunPlan.read(Path(plan_path)))
        config.stash[_SESSION] = session
        config.pluginmanager.register(_ReportAugmenter(session), "loopgrader-report")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def _session(request: pytest.FixtureRequest) -> _Session:
    session = request.config.stash.get(_SESSION, None)
    if session is None:
        raise RuntimeError("graders run through loopgrader (no --loopgrader-plan given)")
    return session


def _lesson(request: pytest.FixtureRequest) -> LessonPlan:
    lesson = _session(request).plan.lesson_for(Path(str(request.node.path)))
    if lesson is None:
        raise RuntimeError(f"{request.node.path} is not in a lesson of the run plan")
    return lesson


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Student:
    """The student's module, reached through the sandboxed worker."""
    return _session(request).student(_lesson(request))


@pytest.fixture
def student_file(request: pytest.FixtureRequest) -> Path:
    """Path of the student's file, for rules on its source (read as text, never run here)."""
    lesson = _lesson(request)
    if lesson.load_error is not None:
        raise StudentImportError(lesson.load_error)
    if lesson.student_file is None:
        raise StudentFileMissing(f"no file to grade for lesson {lesson.lesson}")
    _session(request).check_source(lesson, Path(lesson.student_file))
    return Path(lesson.student_file)


@pytest.fixture
def reference(request: pytest.FixtureRequest) -> types.ModuleType:
    """The lesson's reference solution (trusted process only)."""
    return _session(request).reference(_lesson(request))


@pytest.fixture
def reference_worker(request: pytest.FixtureRequest) -> StudentModule:
    """The reference solution in a worker of its own, for timing against the student's."""
    return _session(request).reference_worker(_lesson(request))


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device training checks run on (cuda, then mps, then cpu, unless overridden)."""
    return _session(request).device


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict a test may fill with extra results (timing ratios, loss curves) for the report."""
    extras: dict[str, Any] = {}
    request.node.stash[_EXTRAS] = extras
    yield extras


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker is not None and marker.args else default


def _describe_item(item: pytest.Item) -> dict[str, Any]:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    title = " ".join(doc.strip().split("\n\n")[0].split()) or item.name
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        title = f"{title} [{callspec.id}]"
    visibility = str(_marker_arg(item, "visibility", "visible"))
    if visibility not in VISIBILITIES:
        raise pytest.UsageError(f"{item.nodeid}: visibility must be one of {VISIBILITIES}")
    return {"name": title, "points": float(_marker_arg(item, "points", 1)),
            "visibility": visibility, "hint": _marker_arg(item, "hint", None)}


def _describe_failure(excinfo: pytest.ExceptionInfo[BaseException]) -> dict[str, Any]:
    exc = excinfo.value
    if isinstance(exc, StudentError):
        return {"message": exc.message, "failure_hint": exc.hint, "category": exc.category_name}
    if isinstance(exc, GradingFailure):
        return {"message": exc.message, "failure_hint": exc.hint, "category": exc.category}
    if isinstance(exc, pytest.skip.Exception):
        return {}
    return {"message": "the grader itself failed on this test (not a problem with your code): "
                       f"{type(exc).__name__}: {exc}", "category": Category.GRADER_ERROR}


def pytest_json_runtest_metadata(item: pytest.Item, call: pytest.CallInfo[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if call.when == "setup":
        data = {**_describe_item(item), "lesson": _lesson_id(item)}
    if call.excinfo is not None:
        data.update(_describe_failure(call.excinfo))
    if call.when == "teardown":
        data["extras"] = item.stash.get(_EXTRAS, {})
    return data


def _lesson_id(item: pytest.Item) -> str | None:
    session = item.config.stash.get(_SESSION, None)
    if session is None:
        return None
    lesson = session.plan.lesson_for(Path(str(item.path)))
    return lesson.lesson if lesson else None


def pytest_collection_finish(session: pytest.Session) -> None:
    out = session.config.getoption("--loopgrader-points-out")
    plan_path = session.config.getoption("--loopgrader-plan")
    if not out or not plan_path:
        return
    plan = RunPlan.read(Path(plan_path))
    totals: dict[str, float] = {lesson: 0.0 for lesson in plan.lessons}
    for item in session.items:
        lesson = plan.lesson_for(Path(str(item.path)))
        if lesson is not None:
            totals[lesson.lesson] += float(_marker_arg(item, "points", 1))
    Path(out).write_text(json.dumps(totals), encoding="utf-8")


class _ReportAugmenter:
    """Adds the run's device and import errors to pytest-json-report's report."""

    def __init__(self, session: _Session) -> None:
        self._session = session

    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        json_report["loopgrader"] = {
            "device": str(self._session.device),
            "isolation": self._session.plan.isolation,
            "import_errors": {k: v for k, v in self._session.import_errors.items() if v},
        }
