"""Which file of a submission is graded for a lesson: its ``.py`` or its ``.ipynb`` notebook.

The rule (docs/notebooks.md), shown in ``check``'s output whenever both files exist: the
lesson's ``.py`` is graded, unless it is missing or still the untouched stub and a notebook with
the same stem (``neural_net.ipynb`` beside ``neural_net.py``) is there — then the notebook is
graded. A notebook is converted here, in the trusted process (see
:mod:`loopgrader.course.notebook`); only the resulting source ever reaches the worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loopgrader.course.catalog import Lesson
from loopgrader.course.stubs import fingerprint, fingerprint_text
from loopgrader.errors import LoopgraderError

__all__ = [
    "NOTEBOOK_STUB_KEY",
    "LessonSource",
    "file_started",
    "is_started",
    "lesson_source",
    "notebook_path",
]

NOTEBOOK_STUB_KEY = "{id}.ipynb"  # key of the notebook stub's fingerprint in stub fingerprints
NOTEBOOK = ".ipynb"
MAX_NOTES = 12  # notes on left-out lines shown per lesson


@dataclass(frozen=True)
class LessonSource:
    """The file graded for one lesson; for a notebook, the source the worker imports."""

    path: Path | None  # the graded file; None when the submission has neither file
    source: str | None = None  # a notebook's converted source (None for a .py)
    line_map: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = ()  # which file was chosen and why; cells used and left out
    error: str | None = None  # the notebook could not be read: one paragraph for the student
    code_name: str = ""  # the .py name the converted source is graded under

    @property
    def is_notebook(self) -> bool:
        return self.path is not None and self.path.suffix == NOTEBOOK

    def translate(self, text: str) -> str:
        """``neural_net.py, line 12`` in a message → ``cell 7, line 3 in neural_net.ipynb``."""
        if not self.is_notebook or self.path is None or not self.code_name:
            return text
        name = self.path.name
        pattern = re.compile(rf"(?:[^\s,:'\"]*/)?{re.escape(self.code_name)}, line (\d+)")

        def where(found: re.Match[str]) -> str:
            line = int(found.group(1))
            if 1 <= line <= len(self.line_map):
                cell, in_cell = self.line_map[line - 1]
                return f"cell {cell}, line {in_cell} in {name}"
            return f"{name}, line {line} of its code"

        text = pattern.sub(where, text)
        return re.sub(rf"(?:[^\s,:'\"]*/)?{re.escape(self.code_name)}\b", name, text)

    def translate_line(self, line: int) -> str | None:
        """``cell 7, line 3`` for a line of the converted source."""
        if 1 <= line <= len(self.line_map):
            cell, in_cell = self.line_map[line - 1]
            return f"cell {cell}, line {in_cell}"
        return None


def notebook_path(lesson: Lesson, submission_root: Path) -> Path | None:
    """Where a notebook for ``lesson`` would be in the submission."""
    if lesson.file is None:
        return None
    return submission_root / lesson.id / (Path(lesson.file).stem + NOTEBOOK)


def _choose(lesson: Lesson, submission_root: Path,
            stubs: dict[str, str]) -> tuple[Path | None, str | None]:
    script = lesson.submitted_file(submission_root)
    notebook = notebook_path(lesson, submission_root)
    has_script = script is not None and script.is_file()
    has_notebook = notebook is not None and notebook.is_file()
    if not has_notebook:
        return (script if has_script else None), None
    assert notebook is not None
    if not has_script:
        return notebook, None
    assert script is not None
    if fingerprint(script) == stubs.get(lesson.id):
        return notebook, (f"graded {notebook.name}: {script.name} beside it is still the "
                          "untouched stub")
    return script, (f"graded {script.name}; {notebook.name} beside it was not graded (when both "
                    f"exist, the .py counts unless it is the untouched stub)")


def lesson_source(lesson: Lesson, submission_root: Path, stubs: dict[str, str]) -> LessonSource:
    """The file to grade for ``lesson``; a notebook is read and converted (errors kept as
    data: a damaged notebook fails only its own lesson)."""
    path, why = _choose(lesson, submission_root, stubs)
    notes: tuple[str, ...] = (why,) if why else ()
    if path is None or path.suffix != NOTEBOOK:
        return LessonSource(path, notes=notes)
    from loopgrader.course.notebook import convert

    code_name = lesson.file or path.with_suffix(".py").name
    try:
        converted = convert(path)
    except LoopgraderError as error:
        message = error.message + (f" {error.hint[0].upper()}{error.hint[1:]}."
                                   if error.hint else "")
        return LessonSource(path, notes=notes, error=message, code_name=code_name)
    used = ", ".join(str(cell) for cell in converted.used) or "none"
    left_out = ", ".join(str(cell) for cell in converted.left_out) or "none"
    shown = [str(note) for note in converted.notes[:MAX_NOTES]]
    if len(converted.notes) > MAX_NOTES:
        shown.append(f"... and {len(converted.notes) - MAX_NOTES} more lines left out")
    notes += (f"{path.name}: code taken from cells {used}; cells left out: {left_out}", *shown)
    return LessonSource(path, converted.source, converted.line_map, notes,
                        code_name=code_name)


def is_started(lesson: Lesson, submission_root: Path, stubs: dict[str, str]) -> bool:
    """True when the student's graded file differs from the stub or their quiz has answers."""
    if (submission_root / lesson.id / "answers.yaml").is_file():
        return True
    return file_started(lesson, submission_root, stubs)


def file_started(lesson: Lesson, submission_root: Path, stubs: dict[str, str],
                 source: LessonSource | None = None) -> bool:
    """True when the graded file differs from the stub (a notebook: when its code differs from
    the code of the notebook stub and from the .py stub)."""
    if source is None:
        source = lesson_source(lesson, submission_root, stubs)
    if source.path is None:
        return False
    if not source.is_notebook:
        return fingerprint(source.path) != stubs.get(lesson.id)
    if source.source is None:  # an unreadable notebook: graded, so its problem is reported
        return True
    stub = stubs.get(NOTEBOOK_STUB_KEY.format(id=lesson.id))
    if stub is None and lesson.stub is not None and lesson.stub.is_file():  # course repository
        from loopgrader.course.notebook_stub import stub_code_fingerprint

        stub = stub_code_fingerprint(lesson.stub.read_text(encoding="utf-8"), lesson.id)
    return fingerprint_text(source.source) not in (stub, stubs.get(lesson.id))

