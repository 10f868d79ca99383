"""Grading inside a Gradescope autograder (the only module that knows its layout).

Gradescope unpacks the bundle into ``$ROOT/source``, puts the student's upload in
``$ROOT/submission`` and reads ``$ROOT/results/results.json``; ``$ROOT`` is ``/autograder``
unless ``AUTOGRADER_ROOT`` says otherwise (tests use a temporary folder). An upload may be the
bare lesson files, or a repository laid out like ``exercises/``: lesson files (``.py``, or a
notebook with the same stem) are found by name.

Run as ``python -m loopgrader.dist.gradescope_run`` (what the bundle's ``run_autograder`` does).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from loopgrader._fs import atomic_write_text
from loopgrader.course.calendar import load_calendar
from loopgrader.course.catalog import Course, load_course
from loopgrader.errors import LoopgraderError
from loopgrader.grading.check import CheckReport, run_check
from loopgrader.output.text import check_json

__all__ = ["collect_submission", "main", "run_autograder"]


def _pick(candidates: list[Path], lesson_id: str) -> Path | None:
    if not candidates:
        return None
    exact = [p for p in candidates if p.parent.name == lesson_id]
    return sorted(exact or candidates, key=lambda p: len(p.parts))[0]


def collect_submission(course: Course, upload: Path, target: Path) -> list[str]:
    """Lay the upload's lesson files (and quiz answers) out like exercises/ in ``target``."""
    found: list[str] = []
    files = [p for p in upload.rglob("*") if p.is_file() and not p.is_symlink()]
    for lesson in course.lessons:
        names = () if lesson.file is None else (lesson.file, Path(lesson.file).stem + ".ipynb")
        for name in names:
            chosen = _pick([p for p in files if p.name == name], lesson.id)
            if chosen is not None:
                (target / lesson.id).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(chosen, target / lesson.id / name)
                if lesson.id not in found:
                    found.append(lesson.id)
        answers = [p for p in files if p.name == "answers.yaml" and p.parent.name == lesson.id]
        if answers:
            (target / lesson.id).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(answers[0], target / lesson.id / "answers.yaml")
    return found


def run_autograder(root: Path) -> dict[str, object]:
    """Grade ``root/submission`` with the course in ``root/source``; write results.json."""
    results_path = root / "results" / "results.json"
    try:
        course = load_course(root / "source")
        with tempfile.TemporaryDirectory(prefix="loopgrader-gradescope-") as tmp:
            found = collect_submission(course, root / "submission", Path(tmp))
            report = run_check(course=course, selector="all", submission_root=Path(tmp),
                               record=False)
        results = check_json(report)
        _hidden_after_due_date(course, report, results)
        notes = [f"{check.lesson.id}: {note}" for check in report.checks if check.source
                 for note in check.source.notes]
        results["output"] = "\n".join([("Graded lessons with a file in your upload: "
                                        f"{', '.join(found) or 'none found'}."), *notes])
    except LoopgraderError as error:
        results = {"score": 0, "output": f"The autograder could not grade this submission: "
                                         f"{error.message}", "tests": []}
    atomic_write_text(results_path, json.dumps(results, indent=1))
    return results


def _hidden_after_due_date(course: Course, report: CheckReport,
                           results: dict[str, Any]) -> None:
    """With a calendar, hidden tests become Gradescope's ``after_due_date`` (lessons with a due
    date; Gradescope applies each student's extension) or ``after_published``: their results
    reach students later instead of never. Without one they stay ``hidden``."""
    calendar = load_calendar(course.manifest, {lesson.id for lesson in course.lessons})
    if calendar.empty:
        return
    lessons = [check.lesson.id for check in report.checks
               for _ in (check.exercise.tests if check.exercise else ())]
    for lesson, test in zip(lessons, results["tests"], strict=False):  # exercise tests first
        if test.get("visibility") == "hidden":
            test["visibility"] = "after_due_date" if lesson in calendar.due else \
                "after_published"


def main() -> None:
    """Entry point of ``run_autograder``."""
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    results = run_autograder(root)
    print(f"score {results.get('score')} of {results.get('max_score', '?')}")
    sys.exit(0)


if __name__ == "__main__":
    main()
