"""``loopgrader build gradescope OUT.zip``: an autograder bundle with every grader, hidden
tests and references included (it runs on Gradescope's servers, never on students' machines)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from loopgrader.dist.student import engine_source
from loopgrader.course.catalog import MANIFEST, Course, load_course
from loopgrader.errors import CourseError, UsageError
from loopgrader.grading.validate import validate_course

__all__ = ["RUN_AUTOGRADER", "SETUP", "build_gradescope"]

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
cd /autograder/source
python3 -m venv /autograder/venv
# The CPU build of torch: the default one pulls several GB of CUDA libraries.
PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \\
  /autograder/venv/bin/pip install -c constraints.txt -e .
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results go to $AUTOGRADER_ROOT/results.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${LOOPGRADER_PYTHON:-$ROOT/venv/bin/python}"
AUTOGRADER_ROOT="$ROOT" exec "$PYTHON" -m loopgrader.dist.gradescope_run
"""

CONTENT = ("exercises", "graders", "quizzes")
SKIP_PARTS = {"__pycache__", ".loopgrader", "answers.yaml"}


def _files(course: Course) -> list[tuple[Path, str]]:
    chosen: list[tuple[Path, str]] = []
    for name in ("pyproject.toml", "constraints.txt", MANIFEST):
        chosen.append((course.root / name, name))
    for folder in CONTENT:
        for path in sorted((course.root / folder).rglob("*")):
            if path.is_file() and not SKIP_PARTS & set(path.parts) and path.suffix != ".pyc":
                chosen.append((path, path.relative_to(course.root).as_posix()))
    engine = engine_source(course)
    for path in sorted(engine.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            chosen.append((path, f"src/loopgrader/{path.relative_to(engine).as_posix()}"))
    return chosen


def _add_script(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    archive.writestr(info, text)


def build_gradescope(course_root: Path, out: Path) -> Path:
    """Write the bundle to ``out`` (a new .zip file)."""
    if out.exists():
        raise UsageError(f"{out} already exists", hint="choose a new file name")
    if out.suffix != ".zip":
        raise UsageError(f"{out}: the bundle must be a .zip file")
    course = load_course(course_root)
    problems = validate_course(course)
    if problems:
        raise CourseError("the course does not validate:\n" + "\n".join(problems),
                          hint="run `loopgrader validate` and fix what it reports first")
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add_script(archive, "setup.sh", SETUP)
        _add_script(archive, "run_autograder", RUN_AUTOGRADER)
        for path, name in _files(course):
            if path.is_file():
                archive.write(path, name)
    os.replace(tmp, out)
    return out
