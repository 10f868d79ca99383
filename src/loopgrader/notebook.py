"""Checking from inside Jupyter or Colab: ``%load_ext loopgrader`` then ``%loopgrader check
2.3``, or ``loopgrader.notebook.check("2.3")``.

It grades the *saved* files exactly as ``loopgrader check`` does (the same code path, so the same
results) and records the same attempt for ``loopgrader report``; the result shows inline as a
table. The course is found from the notebook's folder upwards (or ``course=``); the submission
is the course's ``exercises/`` (or ``submission=``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopgrader.errors import LoopgraderError

__all__ = ["CheckResult", "check", "load_ipython_extension"]

USAGE = ("usage: %loopgrader check LESSON... [--submission DIR] [--course DIR] "
         "[--timeout SECONDS]")


@dataclass(frozen=True)
class CheckResult:
    """What a check found; Jupyter shows it as a table (``_repr_html_``), a terminal as text."""

    report: Any = None  # loopgrader.grading.check.CheckReport; None when an error stopped it
    error: LoopgraderError | None = None

    @property
    def score(self) -> float:
        return float(self.report.score) if self.report is not None else 0.0

    @property
    def max_score(self) -> float:
        return float(self.report.max_score) if self.report is not None else 0.0

    @property
    def passed(self) -> bool:
        return self.report is not None and bool(self.report.passed)

    def _repr_html_(self) -> str:
        from loopgrader.output.html_check import check_html, error_html

        if self.error is not None or self.report is None:
            error = self.error or LoopgraderError("nothing was checked")
            return error_html(error.message, error.hint)
        return check_html(self.report)

    def __repr__(self) -> str:
        from loopgrader.output.text import check_text

        if self.error is not None or self.report is None:
            return f"Error: {self.error}"
        return check_text(self.report)


def check(lesson: str, *, submission: str | Path | None = None, course: str | Path | None = None,
          timeout: float = 60.0) -> CheckResult:
    """Grade ``lesson`` (``"2.3"``, several ``"2.3 2.4"``, a module ``"2"`` or ``"all"``) like
    ``loopgrader check``."""
    from loopgrader.course.catalog import find_course_root, load_course
    from loopgrader.grading.check import run_check

    try:
        loaded = load_course(find_course_root(Path.cwd(), Path(course) if course else None))
        root = Path(submission) if submission else loaded.root / "exercises"
        return CheckResult(run_check(course=loaded, selector=str(lesson), submission_root=root,
                                     timeout=timeout))
    except LoopgraderError as error:
        return CheckResult(error=error)


def _magic(line: str) -> CheckResult | None:
    """``%loopgrader check LESSON... [--submission DIR] [--course DIR] [--timeout SECONDS]``."""
    words = shlex.split(line)
    lessons = []
    for word in words[1:]:
        if word.startswith("--"):
            break
        lessons.append(word)
    rest = words[1 + len(lessons):]
    if not words or words[0] != "check" or not lessons or len(rest) % 2:
        print(USAGE)
        return None
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    unknown = set(options) - {"--submission", "--course", "--timeout"}
    if unknown:
        print(f"unknown option {sorted(unknown)[0]}; {USAGE}")
        return None
    try:
        timeout = float(options.get("--timeout", 60))
    except ValueError:
        print(f"--timeout expects a number of seconds; {USAGE}")
        return None
    return check(" ".join(lessons), submission=options.get("--submission"),
                 course=options.get("--course"), timeout=timeout)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%loopgrader`` (called by ``%load_ext loopgrader``)."""
    ipython.register_magic_function(_magic, magic_kind="line", magic_name="loopgrader")
