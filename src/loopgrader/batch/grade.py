"""``loopgrader grade``: grade a folder of submissions with every grader, into a gradebook.

Each student's lessons are graded in one grader run (``runner.run_graders``, the code path
``check`` uses) on a warm grader host; ``--jobs N`` keeps N hosts busy. Results go to the
gradebook one student at a time, in one transaction each, so a run stopped at any moment keeps
what it finished and the same command resumes it. ``--shard K/N`` grades a fixed subset.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import queue
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from loopgrader.batch.provenance import graders_fingerprints
from loopgrader.batch.rows import (
    QuizScore,
    load_quizzes,
    pair_from_result,
    pair_without_grading,
    score_answers,
)
from loopgrader.batch.shards import ShardChoice, parse_shard
from loopgrader.batch.stage import Staged, Submission, discover, safe_name, stage
from loopgrader.batch.term import Term, TermOptions, apply_term, load_term
from loopgrader.course.catalog import Course, Lesson, select_lessons
from loopgrader.course.stubs import stub_fingerprints
from loopgrader.course.submission import LessonSource, file_started, lesson_source
from loopgrader.errors import CourseError, LoopgraderError, SubmissionError, UsageError
from loopgrader.grading.runner import (
    GraderTimeout,
    RunOptions,
    may_build_optimizers,
    new_host,
    run_graders,
)
from loopgrader.quiz.model import Quiz
from loopgrader.records.gradebook import Gradebook, PairRecord, RunSource, open_gradebook
from loopgrader.sandbox.host import GraderHost
from loopgrader.sandbox.isolation import detect_isolation, hidden_paths, slot_cpus
from loopgrader.sandbox.limits import Limits, default_limits
from loopgrader.status import PairStatus

__all__ = ["BatchOptions", "BatchSummary", "Listener", "batch_limits", "grade_batch", "in_shard",
           "lock_out", "parse_shard", "select_batch_lessons"]


class Listener(Protocol):
    """Told about progress (a progress bar, plain lines, or nothing)."""

    def start(self, total: int, skipped: int) -> None: ...

    def advance(self, pairs: int, student: str, statuses: Counter[str]) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class BatchOptions:
    """Everything ``loopgrader grade`` was asked for."""

    submissions: Path
    out: Path
    lessons: str = "all"
    jobs: int = 1
    force: bool = False
    shard: tuple[int, int] = (1, 1)
    device: str = "cpu"
    isolation: str = "auto"
    limits: Limits | None = None  # of student code; None: batch_limits(device)
    command: str = "loopgrader grade"
    term: TermOptions = field(default_factory=TermOptions)  # roster, extensions, times
    origin: ShardChoice | None = None  # which scheduler chose the shard (recorded per run)


@dataclass
class BatchSummary:
    """What a batch did."""

    students: int = 0
    pairs: int = 0
    graded: int = 0  # pairs written by this run (the rest were skipped: already in the gradebook)
    statuses: Counter[str] = field(default_factory=Counter)
    isolation: str = ""
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # roster mismatches and the like


@dataclass(frozen=True)
class _Task:
    submission: Submission
    lessons: tuple[Lesson, ...]
    done: dict[str, str]  # lesson → fingerprint of what the gradebook already holds


@dataclass(frozen=True)
class _Context:
    course: Course
    options: BatchOptions
    run: RunOptions
    quizzes: dict[str, Quiz]
    stubs: dict[str, str]
    staging: Path


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Whether ``student`` belongs to shard K of N: a hash of the name, so it never depends on
    which other submissions exist."""
    k, n = shard
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def select_batch_lessons(course: Course, selector: str) -> list[Lesson]:
    """``1.2,2.3``, a module ``2`` or ``all``: the built lessons among them."""
    chosen: list[Lesson] = []
    for part in (p.strip() for p in selector.split(",")):
        for lesson in select_lessons(course, part):
            if not lesson.ready and part == lesson.id:
                raise UsageError(f"lesson {lesson.id} is not built yet: nothing to grade")
            if lesson.ready and lesson not in chosen:
                chosen.append(lesson)
    if not chosen:
        raise UsageError(f"--lessons {selector}: no built lesson to grade")
    return chosen


def grade_batch(course: Course, options: BatchOptions,
                listener: Listener | None = None) -> BatchSummary:
    """Grade every submission of the shard that the gradebook does not already hold."""
    started = time.perf_counter()
    lessons = select_batch_lessons(course, options.lessons)
    everyone = discover(options.submissions)
    term = load_term(course, options.term, [s.student for s in everyone])  # before any write
    students = [s for s in everyone if in_shard(s.student, options.shard)]
    with lock_out(options.out), open_gradebook(options.out) as book:
        isolation = detect_isolation(options.isolation)
        graders = graders_fingerprints(course, lessons)
        done = _still_valid(book, graders)
        tasks = [_Task(s, tuple(lessons), {lesson.id: done[(s.student, lesson.id)]
                                           for lesson in lessons if (s.student, lesson.id) in done})
                 for s in students]
        summary = BatchSummary(students=len(students), pairs=len(students) * len(lessons),
                               isolation=isolation)
        origin = options.origin
        source = RunSource(graders=graders) if origin is None else \
            RunSource(origin.scheduler, origin.job, origin.host, graders)
        run_id = book.start_run(options.command, f"{options.shard[0]}/{options.shard[1]}",
                                isolation, source)
        with tempfile.TemporaryDirectory(prefix="loopgrader-batch-") as tmp:
            context = _Context(course, options, _run_options(course, options, isolation),
                               load_quizzes(lessons), stub_fingerprints(course), Path(tmp))
            _run_all(context, tasks, book, run_id, summary, listener)
        if term.active:
            summary.notes += _apply_term(book, term, course, students, run_id)
        book.finish_run(run_id)
    if term.roster_match is not None:
        summary.notes += term.roster_match.lines()
    summary.duration_s = time.perf_counter() - started
    return summary


def _apply_term(book: Gradebook, term: Term, course: Course, students: list[Submission],
                run_id: int) -> list[str]:
    """Lateness, penalty and final score of every pair of this run's students (cheap: no
    grading), so that a new extension or a changed policy applies on the next run. Returns a
    note naming the pairs whose time came from a weaker source than the one asked for."""
    entries = {s.student: s.path for s in students}
    lessons = {lesson.id: lesson for lesson in course.lessons}
    updated = [apply_term(term, pair, lessons[pair.lesson], entries[pair.student])
               for pair in book.pairs() if pair.student in entries and pair.lesson in lessons]
    book.set_term(updated, run_id)
    weaker = [f"{p.student} {p.lesson}" for p in updated
              if p.submitted_source and p.submitted_source != term.clock.source]
    if not weaker:
        return []
    return [f"no {term.clock.source} time for {len(weaker)} pair(s), the file time was used "
            f"(a student can forge it): {', '.join(weaker[:20])}"
            f"{' ...' if len(weaker) > 20 else ''}"]


def _still_valid(book: Gradebook, graders: dict[str, str]) -> dict[tuple[str, str], str]:
    """The gradebook's pair fingerprints, less the pairs graded with other graders than the
    course's now (or with graders not recorded): those are graded again."""
    used = book.graded_with()
    return {key: mark for key, mark in book.fingerprints().items()
            if used.get(key) is not None and used[key] == graders.get(key[1])}


def batch_limits(device: str = "cpu", timeout: float = 60.0,
                 memory_bytes: int | None = None) -> Limits:
    """A batch's limits: ``timeout`` seconds a call, five times that (at least 30 s) for all
    of a student's calls in a lesson, ``memory_bytes`` of address space a worker (None: 4 GiB
    on cpu, no limit on accelerators, which map far more)."""
    if memory_bytes is None:
        memory_bytes = 4 << 30 if device == "cpu" else 0
    return default_limits(timeout, memory_bytes, lesson_seconds=max(30.0, timeout * 5))


def _run_options(course: Course, options: BatchOptions, isolation: str) -> RunOptions:
    hidden = hidden_paths([course.root, options.out, options.submissions]) \
        if isolation == "namespaces" else ()
    return RunOptions(device=options.device, isolation=isolation,
                      limits=options.limits or batch_limits(options.device),
                      hidden_paths=hidden)


@contextlib.contextmanager
def lock_out(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock (one writer per gradebook: a grade or a merge)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"{out}: another `loopgrader grade` or `merge` is writing "
                             "this gradebook",
                             hint="wait for it to finish, or use another --out") from None
        yield


def _run_all(context: _Context, tasks: list[_Task], book: Gradebook, run_id: int,
             summary: BatchSummary, listener: Listener | None) -> None:
    todo: queue.SimpleQueue[_Task] = queue.SimpleQueue()
    for task in tasks:
        todo.put(task)
    results: queue.SimpleQueue[tuple[_Task, list[PairRecord] | BaseException]] = \
        queue.SimpleQueue()
    stop = threading.Event()
    optimizers = may_build_optimizers(tasks[0].lessons) if tasks else False
    slots = max(1, min(context.options.jobs, len(tasks)))
    hosts = [new_host(optimizers=optimizers, cpus=cpus) for cpus in slot_cpus(slots)]
    threads = [threading.Thread(target=_slot, args=(host, context, todo, results, stop),
                                name=f"loopgrader-slot-{i}", daemon=True)
               for i, host in enumerate(hosts)] if tasks else []
    if listener:
        listener.start(summary.pairs, sum(len(t.done) for t in tasks))
    for thread in threads:
        thread.start()
    try:
        for _ in tasks:
            task, outcome = _next(results)
            if isinstance(outcome, BaseException):
                raise outcome
            _store(book, run_id, task, outcome, summary, listener)
    finally:
        stop.set()
        for host in hosts:
            host.abort()
        for thread in threads:
            thread.join(30)
        if listener:
            listener.finish()


def _next(results: queue.SimpleQueue[tuple[_Task, list[PairRecord] | BaseException]]
          ) -> tuple[_Task, list[PairRecord] | BaseException]:
    while True:  # short waits keep Ctrl-C responsive
        with contextlib.suppress(queue.Empty):
            return results.get(timeout=0.5)


def _store(book: Gradebook, run_id: int, task: _Task, pairs: list[PairRecord],
           summary: BatchSummary, listener: Listener | None) -> None:
    book.record(pairs, run_id)
    summary.graded += len(pairs)
    counts = Counter(p.status for p in pairs)
    summary.statuses.update(counts)
    if listener:
        listener.advance(len(task.lessons), task.submission.student, counts)


def _slot(host: GraderHost, context: _Context, todo: queue.SimpleQueue[_Task],
          results: queue.SimpleQueue[tuple[_Task, list[PairRecord] | BaseException]],
          stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results.put((task, _grade_student(host, context, task)))
            except BaseException as exc:  # handed to the main thread, which stops the batch
                results.put((task, exc))
                return
    finally:
        host.close()


def _grade_student(host: GraderHost, context: _Context, task: _Task) -> list[PairRecord]:
    student = task.submission.student
    folder = context.staging / safe_name(student)
    try:
        staged = stage(task.submission, list(task.lessons), folder)
    except SubmissionError as error:  # the whole submission was refused (an unsafe archive)
        shutil.rmtree(folder, ignore_errors=True)
        mark = _file_fingerprint(task.submission.path)
        lessons = [lesson for lesson in task.lessons
                   if context.options.force or task.done.get(lesson.id) != mark]
        return [pair_without_grading(student, lesson, PairStatus.ERROR, _quiz_max(context, lesson),
                                     error.message, mark) for lesson in lessons]
    try:
        todo = [lesson for lesson in task.lessons if context.options.force
                or task.done.get(lesson.id) != staged.fingerprints[lesson.id]]
        return _grade_staged(host, context, student, staged, todo)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256(b"refused\0")
    if path.is_file():
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _quiz_max(context: _Context, lesson: Lesson) -> QuizScore:
    quiz = context.quizzes.get(lesson.id)
    return QuizScore(quiz.max_score if quiz else 0.0)


def _grade_staged(host: GraderHost, context: _Context, student: str, staged: Staged,
                  lessons: list[Lesson]) -> list[PairRecord]:
    pairs: list[PairRecord] = []
    to_grade: list[tuple[Lesson, QuizScore]] = []
    sources: dict[str, LessonSource] = {}
    for lesson in lessons:
        quiz = score_answers(context.quizzes.get(lesson.id), staged.answers.get(lesson.id),
                             str(staged.root))
        mark = staged.fingerprints[lesson.id]
        source = sources[lesson.id] = lesson_source(lesson, staged.root, context.stubs)
        if lesson.id in staged.problems:
            pairs.append(pair_without_grading(student, lesson, PairStatus.ERROR, quiz,
                                              staged.problems[lesson.id], mark))
        elif source.path is None:
            pairs.append(pair_without_grading(student, lesson, PairStatus.NOT_SUBMITTED, quiz,
                                              fingerprint=mark))
        elif source.error is not None:  # a damaged notebook: only this lesson is an error
            pairs.append(pair_without_grading(student, lesson, PairStatus.ERROR, quiz,
                                              source.error.replace(str(staged.root) + "/", ""),
                                              mark))
        elif not file_started(lesson, staged.root, context.stubs, source):
            pairs.append(pair_without_grading(student, lesson, PairStatus.NOT_STARTED, quiz,
                                              "the file is still the stub", mark))
        else:
            to_grade.append((lesson, quiz))
    if to_grade:
        pairs += _run_graders(host, context, student, staged, to_grade, sources)
    return pairs


def _run_graders(host: GraderHost, context: _Context, student: str, staged: Staged,
                 to_grade: list[tuple[Lesson, QuizScore]],
                 sources: dict[str, LessonSource]) -> list[PairRecord]:
    lessons = [lesson for lesson, _ in to_grade]
    for attempt in (1, 2):
        try:
            run = run_graders(host, context.course, lessons, staged.root, context.run, sources)
            break
        except GraderTimeout as error:
            return _failed(student, staged, to_grade, PairStatus.TIMED_OUT, error.message, context)
        except CourseError:
            raise
        except LoopgraderError as error:  # the grader run itself ended badly: retry once
            if attempt == 2:
                return _failed(student, staged, to_grade, PairStatus.ERROR,
                               f"the grader could not finish: {error.message}", context)
    return [pair_from_result(student, run.results[lesson.id], quiz,
                             fingerprint=staged.fingerprints[lesson.id],
                             isolation=run.isolation, strip=str(staged.root))
            for lesson, quiz in to_grade]


def _failed(student: str, staged: Staged, to_grade: list[tuple[Lesson, QuizScore]],
            status: str, message: str, context: _Context) -> list[PairRecord]:
    return [replace(pair_without_grading(student, lesson, status, quiz, message,
                                         staged.fingerprints[lesson.id]),
                    isolation=context.run.isolation) for lesson, quiz in to_grade]
