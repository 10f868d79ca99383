"""Helpers for the batch tests: a fixture course with a quiz, and submission folders."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUIZ = """lesson: "1.1"
title: "Adding things"
questions:
  - id: plus
    kind: single
    points: 1
    prompt: Which operator adds two tensors?
    choices:
      a: "+"
      b: "*"
    answer: a
    explanation: a + b adds element-wise.
  - id: four
    kind: numeric
    points: 1
    decimals: 0
    prompt: What is 2 + 2?
    answer: 4
    explanation: Four.
"""
MANIFEST = """title: Batch course (tests)
modules:
  1: Basics
lessons:
  - {id: "1.1", title: "Adding things", file: calc.py, points: 4, quiz: quizzes/1.1.yaml}
  - {id: "1.2", title: "Not built yet", file: later.py, status: planned}
"""


def make_course(root: Path) -> Path:
    """The mini course with a quiz for lesson 1.1."""
    shutil.copytree(FIXTURES / "mini", root)
    (root / "quizzes").mkdir()
    (root / "quizzes" / "1.1.yaml").write_text(QUIZ, encoding="utf-8")
    (root / "course.yaml").write_text(MANIFEST, encoding="utf-8")
    return root


def add_submission(folder: Path, student: str, source: str) -> Path:
    """Copy a fixture submission (hostile/NAME or submissions/NAME) in as ``student``."""
    origin = FIXTURES / "hostile" / source
    if not origin.is_dir():
        origin = FIXTURES / "submissions" / source
    return Path(shutil.copytree(origin, folder / student))


def write_file(folder: Path, student: str, text: str | bytes, name: str = "calc.py") -> Path:
    path = folder / student / "1.1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def zip_folder(source: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + str(path.relative_to(source)))
    return archive


def rows(out: Path) -> dict[str, sqlite3.Row]:
    """Every pair row of lesson 1.1 in the gradebook under ``out``, by student."""
    db = sqlite3.connect(out / "gradebook.sqlite")
    db.row_factory = sqlite3.Row
    return {row["student"]: row for row in db.execute("SELECT * FROM pairs WHERE lesson='1.1'")}


def outcomes(out: Path, student: str) -> list[tuple[str, int, str | None]]:
    db = sqlite3.connect(out / "gradebook.sqlite")
    return list(db.execute("SELECT name, passed, category FROM tests WHERE student=? "
                           "ORDER BY position", (student,)))
