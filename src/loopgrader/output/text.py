"""Turns check reports and lesson lists into text for terminals and Gradescope-style JSON."""

from __future__ import annotations

import re
from typing import Any

from loopgrader import __version__
from loopgrader.course.catalog import Course
from loopgrader.grading.check import CheckReport, LessonCheck
from loopgrader.output import gradescope
from loopgrader.output.points import points as _pts
from loopgrader.records.progress import Progress, summarise
from loopgrader.records.result import TestResult
from loopgrader.status import Category, LessonStatus

__all__ = ["check_json", "check_text", "lessons_text"]

PASS, FAIL = "✓", "✗"
TODO = re.compile(r"\d+\.\d+: implement (\w+)")


def check_text(report: CheckReport) -> str:
    """The terminal view of a check: a line per test, messages under failures, totals."""
    blocks = [_lesson_text(check) for check in report.checks]
    if report.not_started and not report.checks:
        blocks.append("No lesson started yet: nothing to check. Work in a lesson's file under "
                      "exercises/ (or answer its quiz), then check again.")
    elif report.not_started:
        blocks.append("Not started yet (skipped): "
                      + ", ".join(lesson.id for lesson in report.not_started))
    if len(report.not_built) == 1:
        lesson = report.not_built[0]
        blocks.append(f"Lesson {lesson.id} — {lesson.title}: not built yet (nothing to check)")
    elif report.not_built:
        blocks.append("Not built yet (nothing to check): "
                      + ", ".join(lesson.id for lesson in report.not_built))
    graded = any(check.exercise is not None for check in report.checks)
    where = f" on {report.device}" if graded else ""
    total = (f"Total: {_pts(report.score)}/{_pts(report.max_score)} points{where} in "
             f"{report.duration_s:.1f} s")
    if graded and report.isolation:
        total += f" (your code ran isolated at the '{report.isolation}' level)"
    return "\n\n".join([*blocks, total])


def _lesson_text(check: LessonCheck) -> str:
    exercise = _exercise_text(check)
    quiz = quiz_text(check)
    advice = "\n".join(f"  advice (no points): {line}" for line in check.advice)
    notes = "\n".join(f"  note: {line}" for line in (check.source.notes if check.source else ()))
    return "\n".join(part for part in (exercise, notes, quiz, advice) if part)


def quiz_text(check: LessonCheck, *, how_to: bool = True) -> str:
    """The lesson's quiz in one line ("" without a quiz): score, wrong and unanswered questions;
    ``how_to`` adds the command that takes a quiz not answered yet."""
    quiz, lesson = check.quiz, check.lesson
    if quiz is None:
        return ""
    if quiz.problem:
        return f"  Quiz: 0/{_pts(check.quiz_max)} — {quiz.problem}"
    if quiz.result is None:
        take = f" — take it with `loopgrader quiz {lesson.id}`" if how_to else ""
        return f"  Quiz: not answered yet (0/{_pts(check.quiz_max)}){take}"
    result = quiz.result
    wrong = [q.id for q in result.questions if q.correct is False]
    missing = [q.id for q in result.questions if q.correct is None]
    line = f"  Quiz: {_pts(result.score)}/{_pts(result.max_score)}"
    if wrong:
        line += f" · wrong: {', '.join(wrong)}"
    if missing:
        line += f" · unanswered: {', '.join(missing)}"
    return line


def _exercise_text(check: LessonCheck) -> str:
    lesson, result = check.lesson, check.exercise
    head = f"Lesson {lesson.id} — {lesson.title}"
    if result is None:
        return f"{head}: quiz only"
    score = f"{_pts(result.score)}/{_pts(result.max_score)}"
    if result.missing_file or result.import_error:
        problem = result.import_error or result.missing_file or ""
        return f"{head}: {result.status} ({score})\n  {problem}"
    if result.status == LessonStatus.NOT_STARTED:
        todo = sorted({m.group(1) for t in result.tests for m in TODO.finditer(t.message or "")})
        what = f" ({', '.join(todo)})" if todo else ""
        graded = check.source.path if check.source and check.source.path else None
        name = graded.name if graded is not None else lesson.file
        return (f"{head}: not started ({score})\n  Replace each `raise NotImplementedError` in "
                f"exercises/{lesson.id}/{name}{what} with your code, then run "
                f"`loopgrader check {lesson.id}` again.")
    if result.integrity and all(t.category == Category.INTEGRITY for t in result.tests) \
            and len(result.integrity) == 1:  # rejected on its source: one message, not one a test
        hint = next((t.hint for t in result.tests if t.hint), None)
        details = [*result.integrity[0].splitlines(), *([f"hint: {hint}"] if hint else [])]
        return "\n".join([f"{head}: not graded, integrity ({score})",
                          *(f"  {line}" for line in details)])
    lines = [f"{head}: {result.status} ({score})"]
    lines += [_test_line(test) for test in result.tests]
    if result.integrity:
        lines.append("  integrity: points withheld because your code reached around the "
                     "grader's checks (your instructor sees this lesson flagged)")
    for key, ratio in result.timings.items():
        lines.append(f"  timing: {key} took {ratio:.2f}× the reference on {result.device}")
    return "\n".join(lines)


def _test_line(test: TestResult) -> str:
    mark = PASS if test.passed else FAIL
    line = f"  {mark} {_pts(test.score):>3}/{_pts(test.max_score):<3} {test.name}"
    if test.passed:
        return line
    details = [*(test.message or "").splitlines(), *(f"hint: {h}" for h in
                                                     (test.hint or "").splitlines())]
    return "\n".join([line, *(f"           {d}" for d in details)])


def check_json(report: CheckReport) -> dict[str, Any]:
    """Gradescope's results schema, plus ``lesson``, ``device`` and ``loopgrader_version``."""
    tests: list[dict[str, Any]] = []
    several = len(report.checks) > 1
    for check in report.checks:
        for test in check.exercise.tests if check.exercise else ():
            tests.append(gradescope.test_entry(test, f"[{check.lesson.id}] " if several else ""))
    for check in report.checks:
        tests += _quiz_json(check, f"[{check.lesson.id}] " if several else "")
    return gradescope.results(
        score=report.score, max_score=report.max_score,
        execution_time=report.duration_s, tests=tests,
        lesson=report.selector, device=report.device, loopgrader_version=__version__,
        isolation=report.isolation,
        lessons={c.lesson.id: {"status": c.exercise.status if c.exercise else "quiz only",
                               "score": c.score, "max_score": c.max_score,
                               "quiz_score": c.quiz.score if c.quiz else None,
                               "graded_file": c.source.path.name
                               if c.source and c.source.path else None,
                               "notes": list(c.source.notes) if c.source else [],
                               "integrity": list(c.exercise.integrity) if c.exercise else []}
                 for c in report.checks},
        not_built=[lesson.id for lesson in report.not_built],
    )


def _quiz_json(check: LessonCheck, prefix: str) -> list[dict[str, Any]]:
    quiz = check.quiz
    if quiz is None:
        return []
    if quiz.result is None:
        output = quiz.problem or f"not answered yet: run `loopgrader quiz {check.lesson.id}`"
        return [gradescope.entry(f"{prefix}quiz", 0.0, check.quiz_max, passed=False,
                                 output=output)]
    return [gradescope.entry(f"{prefix}quiz {q.id}: {q.prompt.splitlines()[0][:80]}", q.score,
                             q.max_score, passed=bool(q.correct),
                             output=q.explanation if q.correct is not None else "not answered")
            for q in quiz.result.questions]


def lessons_text(course: Course, progress: Progress) -> str:
    """``loopgrader list``: the lessons by module, with status from progress."""
    lines: list[str] = [course.title]
    for module, title in sorted(course.modules.items()):
        lines.append(f"\nModule {module} — {title}")
        for lesson in (item for item in course.lessons if item.module == module):
            lines.append(f"  {lesson.id:<5} {lesson.title:<60} {_status(lesson, progress)}")
    for problem in progress.problems:
        lines.append(f"\nwarning: {problem}")
    return "\n".join(lines)


def _status(lesson: Any, progress: Progress) -> str:
    if not lesson.ready:
        return "not built yet"
    exercise = summarise(progress.attempts, lesson.id, "exercise")
    quiz = summarise(progress.attempts, lesson.id, "quiz")
    parts = []
    for label, item in (("exercise", exercise), ("quiz", quiz)):
        if item.best is None:
            continue
        parts.append(f"{label} {item.status} (best {_pts(item.best.score)}/"
                     f"{_pts(item.best.max_score)}, {item.attempts} attempts)")
    return "; ".join(parts) or "not started"
