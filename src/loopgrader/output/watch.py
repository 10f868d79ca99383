"""The screen of ``loopgrader watch``: what changed since the last run first, then the failing
tests with their messages and hints, then the score and what to do next."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from loopgrader.grading.check import LessonCheck
from loopgrader.grading.watch import BrokenSave, Change, Grading, NextStep, Update
from loopgrader.output.points import points as _pts
from loopgrader.output.text import FAIL, PASS, TODO, quiz_text
from loopgrader.status import LessonStatus

__all__ = ["grading_text", "update_text", "watching_text"]

INDENT = "           "


def update_text(update: Update, *, selector: str, root: Path,
                details: int | None = None) -> str:
    """The whole screen after one grading. ``details``: how many failing tests per lesson show
    their message and hint (None: all); the others are listed by name (to fit a terminal)."""
    report = update.report
    blocks = [_header(update, selector, root)]
    if update.broken is not None:
        blocks.append(_broken_text(update.broken, root))
        if report.checks:
            blocks.append(f"Last results kept: {_pts(report.score)}/{_pts(report.max_score)} "
                          "points. Fix the error and save again.")
        return "\n\n".join(blocks)
    if update.problem is not None:
        blocks.append(f"⚠ Grading did not finish: {update.problem}\n"
                      "Save again to grade afresh.")
    if (update.run > 1 and update.graded) or update.changes:
        blocks.append(_changes_text(update, report.score, report.max_score,
                                    prefix=len(report.checks) > 1))
    blocks += [_lesson_text(check, details) for check in report.checks]
    if report.not_started:
        blocks.append("Not started yet (graded once you save them): "
                      + ", ".join(lesson.id for lesson in report.not_started))
    if report.checks:
        graded = any(check.exercise is not None for check in report.checks)
        where = f" on {report.device}" if graded else ""
        blocks.append(f"Score: {_pts(report.score)}/{_pts(report.max_score)} points{where}")
    if update.next is not None:
        blocks.append(_next_text(update.next, report.checks))
    return "\n\n".join(blocks)


def grading_text(event: Grading, root: Path) -> str:
    """The line shown while a save is graded."""
    return f"⟳ {_names(event.saved, root)} saved: grading…"


def watching_text(files: Sequence[Path], mode: str, root: Path) -> str:
    """The footer: what is watched and how, and how to stop."""
    folders = sorted({path.parent for path in files})
    what = _names(files, root) if len(folders) == 1 else \
        f"the files and answers of lessons {', '.join(f.name for f in folders)} in " \
        f"{_folder_name(folders[0].parent)}"
    return f"Watching {what} ({mode}). Save to grade again; Ctrl-C to stop."


def _names(paths: Sequence[Path], root: Path) -> str:
    """Paths as the student knows them: from the current folder, else from the submission."""
    names = []
    for path in paths:
        for base in (Path.cwd(), root.absolute()):
            if path.is_relative_to(base):
                names.append(str(path.relative_to(base)))
                break
        else:
            names.append(str(path))
    return ", ".join(names) or "nothing"


def _folder_name(folder: Path) -> str:
    here = Path.cwd()
    if folder == here:
        return "the current folder"
    return str(folder.relative_to(here)) if folder.is_relative_to(here) else str(folder)


def _header(update: Update, selector: str, root: Path) -> str:
    when = time.strftime("%H:%M:%S")
    what = f"saved {_names(update.saved, root)}" if update.saved else "first run"
    took = "" if update.broken else f" · graded in {update.duration_s:.2f} s"
    return f"loopgrader watch {selector} · run {update.run} · {when} · {what}{took}"


def _broken_text(broken: BrokenSave, root: Path) -> str:
    where = _names([broken.path], root)
    lines = [f"✗ {where} does not compile, so it was not graded:"]
    place = f"line {broken.line}" if broken.line else "somewhere"
    lines.append(f"  {where}, {place}: {broken.message}")
    if broken.text:
        lines.append(f"    {broken.text.strip()}")
        if broken.column:
            lead = len(broken.text) - len(broken.text.lstrip())
            lines.append("    " + " " * max(0, broken.column - 1 - lead) + "^")
    return "\n".join(lines)


def _changes_text(update: Update, score: float, max_score: float, *, prefix: bool) -> str:
    changes, before = update.changes, update.previous_score
    lines = ["Since the last run:"]
    lines += [f"  graded for the first time: lesson {lesson}" for lesson in update.first_graded]
    lines += [f"  now passing  {PASS} {_label(c, prefix)}" for c in changes if c.now_passing]
    lines += [f"  broke        {FAIL} {_label(c, prefix)}" for c in changes if not c.now_passing]
    if not changes and not update.first_graded:
        lines.append("  no test changed")
    if before is not None and before != score:
        lines.append(f"  score {_pts(before)} → {_pts(score)}/{_pts(max_score)}")
    return "\n".join(lines)


def _label(change: Change, prefix: bool) -> str:
    return f"[{change.lesson}] {change.name}" if prefix else change.name


def _lesson_text(check: LessonCheck, details: int | None) -> str:
    lesson, result = check.lesson, check.exercise
    head = f"Lesson {lesson.id} — {lesson.title}"
    if result is None:
        return "\n".join([f"{head}: quiz only", *_quiz_lines(check)])
    lines = [f"{head}: {result.status} ({_pts(result.score)}/{_pts(result.max_score)})"]
    if result.missing_file or result.import_error:
        problem = result.import_error or result.missing_file or ""
        lines += [f"  {line}" for line in problem.splitlines()]
    elif result.status == LessonStatus.NOT_STARTED:
        todo = sorted({m.group(1) for t in result.tests for m in TODO.finditer(t.message or "")})
        what = f" ({', '.join(todo)})" if todo else ""
        lines.append(f"  Replace each `raise NotImplementedError` in {lesson.id}/{lesson.file}"
                     f"{what} with your code and save: it is graded again at once.")
    else:
        failing = [test for test in result.tests if not test.passed]
        for number, test in enumerate(failing):
            lines.append(f"  {FAIL} {_pts(test.score):>3}/{_pts(test.max_score):<3} {test.name}")
            if details is None or number < details:
                lines += [f"{INDENT}{line}" for line in (test.message or "").splitlines()]
                lines += [f"{INDENT}hint: {line}" for line in (test.hint or "").splitlines()]
        passing = len(result.tests) - len(failing)
        lines.append(f"  {PASS} {passing} of {len(result.tests)} tests pass")
    lines += _quiz_lines(check)
    lines += [f"  advice (no points): {line}" for line in check.advice]
    return "\n".join(lines)


def _quiz_lines(check: LessonCheck) -> list[str]:
    line = quiz_text(check, how_to=False)  # the next step, shown last, names the quiz
    return [line] if line else []


def _next_text(step: NextStep, checks: Sequence[LessonCheck]) -> str:
    done = ", ".join(check.lesson.id for check in checks if check.exercise is not None)
    lines = [f"★ Every test passes ({done})." if done else "★ Quiz passed."]
    lines += [f"Next: take the quiz with `loopgrader quiz {quiz}`." for quiz in step.quizzes]
    if step.lesson is not None:
        nxt = step.lesson
        if step.watched:
            how = (f"work in {nxt.id}/{nxt.file}, this watch grades it on save"
                   if nxt.file else f"`loopgrader quiz {nxt.id}`")
        else:
            how = f"`loopgrader {'watch' if nxt.file else 'quiz'} {nxt.id}`"
        lines.append(f"{'Then' if step.quizzes else 'Next'}: lesson {nxt.id} — "
                     f"{nxt.title}: {how}.")
    elif not step.quizzes:
        lines.append("That was the last lesson: `loopgrader report` shows your whole course.")
    return "\n".join(lines)
