"""``loopgrader watch``: grade once, then again on every save, on one warm grader host.

A :class:`WatchSession` keeps one grader host (and its worker fork server) for the whole
session, so a re-grade pays only for the graders' own work, not for starting Python and torch.
Each save re-grades only the lessons whose file was saved (a saved ``answers.yaml`` only
re-scores that quiz); results of the other lessons are kept. A save that does not compile is
shown and not graded; a run that hangs or crashes is reported as ``check`` reports it and the
next save grades afresh; a host that died is started again. Every graded exercise is recorded as
an attempt, as ``check`` records it.

This module decides and grades; it never prints (``cli.watch`` shows :class:`Update` s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loopgrader.course.catalog import Course, Lesson, select_many
from loopgrader.course.stubs import stub_fingerprints
from loopgrader.course.submission import is_started, notebook_path
from loopgrader.errors import LoopgraderError, UsageError
from loopgrader.grading.check import CheckReport, LessonCheck, check_lessons, lesson_check
from loopgrader.grading.filewatch import FileWatcher, WatchMode
from loopgrader.grading.runner import may_build_optimizers, new_host
from loopgrader.quiz.session import answers_path
from loopgrader.sandbox.host import GraderHost, HostStopped

__all__ = ["BrokenSave", "Change", "Grading", "NextStep", "Update", "WatchSession",
           "changes_between", "next_step", "syntax_problem"]


@dataclass(frozen=True)
class Change:
    """A test (or quiz question) that passes now and did not, or the other way round."""

    lesson: str
    name: str
    now_passing: bool


@dataclass(frozen=True)
class BrokenSave:
    """A saved file that Python cannot compile: where and why (it was not graded)."""

    path: Path
    message: str
    line: int | None = None
    column: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class NextStep:
    """What to do once the watched lessons pass."""

    quizzes: tuple[str, ...]  # lessons whose quiz is not passed yet
    lesson: Lesson | None  # the next lesson of the course, if any
    watched: bool = False  # that lesson is one this watch already watches


@dataclass(frozen=True)
class Grading:
    """A save was seen and is being graded (shown while the graders run)."""

    saved: tuple[Path, ...]


@dataclass(frozen=True)
class Update:
    """The result after one grading: the current report and what changed since the last."""

    run: int  # 1 for the first grading
    report: CheckReport
    changes: tuple[Change, ...] = ()
    saved: tuple[Path, ...] = ()
    graded: tuple[str, ...] = ()  # lessons graded this time (others kept their last result)
    broken: BrokenSave | None = None  # the save does not compile: the report is the last one
    problem: str | None = None  # grading itself failed (took too long, the grader crashed)
    previous_score: float | None = None
    first_graded: tuple[str, ...] = ()  # lessons graded this time and never before
    next: NextStep | None = None  # set when everything watched passes
    duration_s: float = 0.0


@dataclass
class _State:
    checks: dict[str, LessonCheck] = field(default_factory=dict)
    device: str = "cpu"
    runs: int = 0


class WatchSession:
    """Grades the lessons ``selector`` names (``1.2``, ``1.2 1.3``, ``1``, ``all``) of a
    submission on one warm host (a context manager)."""

    def __init__(self, course: Course, selector: str, submission_root: Path, *,
                 device: str = "auto", timeout: float = 60.0, record: bool = True,
                 force_polling: bool | None = None) -> None:
        lessons = select_many(course, selector.split())
        self.course, self.selector, self.root = course, selector, submission_root
        self.lessons = tuple(lesson for lesson in lessons if lesson.ready)
        self.not_built = tuple(lesson for lesson in lessons if not lesson.ready)
        if not self.lessons:
            raise UsageError(f"lesson {selector} is not built yet: nothing to watch",
                             hint="`loopgrader list` shows the lessons you can work on")
        if not submission_root.is_dir():
            raise UsageError(f"{submission_root}: no such folder",
                             hint="give --submission the folder that holds your lessons' "
                                  "folders (1.1/, 1.2/, ...)")
        self._device, self._timeout, self._record = device, timeout, record
        self._only_started = len(self.lessons) > 1  # a module or all: skip untouched stubs
        self._stubs = stub_fingerprints(course) if self._only_started else {}
        self._host: GraderHost | None = None
        self._state = _State()
        self.watcher = FileWatcher(self.files, force_polling=force_polling)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file a save of which re-grades: the lessons' files (``.py`` and notebook) and
        answers files."""
        found: list[Path] = []
        for lesson in self.lessons:
            found += self._lesson_files(lesson)
            if lesson.quiz is not None:
                found.append(answers_path(self.root, lesson.id))
        return tuple(found)

    @property
    def mode(self) -> WatchMode:
        return self.watcher.mode

    @property
    def host_pid(self) -> int | None:
        return self._host.pid if self._host is not None and self._host.alive else None

    def __enter__(self) -> WatchSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop watching and end the host at once (a grading under way is killed)."""
        self.watcher.stop()
        host, self._host = self._host, None
        if host is not None:
            host.abort()
            host.close()

    def updates(self) -> Iterator[Grading | Update]:
        """The first grading, then one per save, until :meth:`close` or Ctrl-C."""
        self.watcher.start()  # saves made during the first grading are graded after it
        first = self.grade_all()
        self.watcher.wait_ready()
        yield first
        for saved in self.watcher.saves():
            yield Grading(tuple(sorted(saved)))
            yield self.grade_saved(saved)

    def grade_all(self) -> Update:
        """Grade every lesson (a module or all: those started) and score every quiz."""
        todo = [lesson for lesson in self.lessons if self._wanted(lesson)]
        return self._grade(todo, [], ())

    def grade_saved(self, saved: frozenset[Path] | set[Path]) -> Update:
        """Grade the lessons whose file is among ``saved``; re-score quizzes whose answers are."""
        grade: list[Lesson] = []
        rescore: list[Lesson] = []
        for lesson in self.lessons:
            if any(_absolute(path) in saved for path in self._lesson_files(lesson)):
                if self._wanted(lesson):
                    grade.append(lesson)
            elif _absolute(answers_path(self.root, lesson.id)) in saved:
                if lesson.id in self._state.checks or not lesson.file:
                    rescore.append(lesson)
                else:  # answering the quiz starts a lesson not graded so far
                    grade.append(lesson)
        return self._grade(grade, rescore, tuple(sorted(saved)))

    def _lesson_files(self, lesson: Lesson) -> list[Path]:
        """The files that hold ``lesson``'s code: its ``.py`` and its notebook (the rule of
        :mod:`loopgrader.course.submission` decides which one is graded)."""
        return [path for path in (lesson.submitted_file(self.root),
                                  notebook_path(lesson, self.root)) if path is not None]

    def _wanted(self, lesson: Lesson) -> bool:
        return not self._only_started or is_started(lesson, self.root, self._stubs)

    def _grade(self, grade: Sequence[Lesson], rescore: Sequence[Lesson],
               saved: tuple[Path, ...]) -> Update:
        started = time.perf_counter()
        state = self._state
        state.runs += 1
        before = self._report(0.0)
        first = state.runs == 1
        for lesson in grade:
            broken = syntax_problem(lesson.submitted_file(self.root))
            if broken is not None:
                return Update(state.runs, before, saved=saved, broken=broken,
                              duration_s=time.perf_counter() - started)
        problem = None
        if grade:
            try:
                self._run(grade)
            except LoopgraderError as error:  # too long, or the grader run itself failed
                problem = error.message + (f"\n{error.hint}" if error.hint else "")
        for lesson in rescore:
            old = state.checks.get(lesson.id)
            state.checks[lesson.id] = lesson_check(lesson, old.exercise if old else None,
                                                   self.root)
        report = self._report(time.perf_counter() - started)
        return Update(
            state.runs, report,
            changes=() if first else changes_between(before, report),
            saved=saved, graded=tuple(lesson.id for lesson in grade), problem=problem,
            previous_score=None if first else before.score,
            first_graded=() if first else tuple(
                lesson.id for lesson in grade
                if all(check.lesson.id != lesson.id for check in before.checks)),
            next=next_step(self.course, self.lessons, report) if not problem else None,
            duration_s=time.perf_counter() - started)

    def _run(self, lessons: Sequence[Lesson]) -> None:
        for attempt in (1, 2):
            host = self._ensure_host() if any(lesson.file for lesson in lessons) else None
            try:
                checks, device, _level = check_lessons(
                    self.course, lessons, self.root, device=self._device,
                    timeout=self._timeout, record=self._record, host=host)
                break
            except HostStopped:  # the host died: start a fresh one and grade again, once
                self._drop_host()
                if attempt == 2:
                    raise
        self._state.device = device
        for check in checks:
            self._state.checks[check.lesson.id] = check

    def _ensure_host(self) -> GraderHost:
        if self._host is None:
            self._host = new_host(optimizers=may_build_optimizers(self.lessons))
        if not self._host.alive:
            self._host.start()
        return self._host

    def _drop_host(self) -> None:
        host, self._host = self._host, None
        if host is not None:
            host.abort()
            host.close()

    def _report(self, duration: float) -> CheckReport:
        state = self._state
        checks = tuple(state.checks[lesson.id] for lesson in self.lessons
                       if lesson.id in state.checks)
        not_started = tuple(lesson for lesson in self.lessons if lesson.id not in state.checks)
        return CheckReport(self.selector, checks, self.not_built, state.device, duration,
                           not_started)


def _absolute(path: Path) -> Path:
    """As the file watcher names paths: absolute, with ``..`` resolved (links kept)."""
    return Path(os.path.abspath(path))


def syntax_problem(path: Path | None) -> BrokenSave | None:
    """Why ``path`` does not compile, or None (also when it cannot be read: grading says so).

    Compiling parses the file and never runs it, so it is safe in this trusted process.
    """
    if path is None:
        return None
    try:
        source = path.read_bytes()
    except OSError:
        return None
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        text = error.text.rstrip("\n") if isinstance(error.text, str) else None
        return BrokenSave(path, error.msg, error.lineno, error.offset, text)
    except (ValueError, RecursionError, MemoryError):  # the grader will say what is wrong
        return None
    return None


def changes_between(before: CheckReport, after: CheckReport) -> tuple[Change, ...]:
    """Tests and quiz questions whose verdict flipped, lesson by lesson, in the graders' order."""
    old = {check.lesson.id: _verdicts(check) for check in before.checks}
    found: list[Change] = []
    for check in after.checks:
        previous = old.get(check.lesson.id)
        if previous is None:
            continue
        for name, passed in _verdicts(check).items():
            if name in previous and previous[name] != passed:
                found.append(Change(check.lesson.id, name, passed))
    return tuple(found)


def _verdicts(check: LessonCheck) -> dict[str, bool]:
    verdicts: dict[str, bool] = {}
    if check.exercise is not None:
        verdicts.update((test.name, test.passed) for test in check.exercise.tests)
    if check.quiz is not None and check.quiz.result is not None:
        verdicts.update((f"quiz question {q.id}", bool(q.correct))
                        for q in check.quiz.result.questions)
    return verdicts


def next_step(course: Course, lessons: Sequence[Lesson],
              report: CheckReport) -> NextStep | None:
    """Once every exercise graded passes: the quizzes still to pass, and the lesson to do next
    (one watched but not started yet, else the course's next built lesson). None before."""
    exercises = [check.exercise for check in report.checks if check.exercise is not None]
    if not report.checks or not all(exercise.passed for exercise in exercises) \
            or not (exercises or report.passed):
        return None
    quizzes = tuple(check.lesson.id for check in report.checks
                    if check.quiz is not None and not check.quiz.passed)
    if report.not_started:
        return NextStep(quizzes, report.not_started[0], watched=True)
    order = [lesson.id for lesson in course.lessons]
    last = max(order.index(lesson.id) for lesson in lessons)
    following = next((lesson for lesson in course.lessons[last + 1:] if lesson.ready), None)
    return NextStep(quizzes, following)

