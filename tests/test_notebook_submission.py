"""Which file of a submission is graded when a lesson has a notebook, and when a notebook counts
as started (no grading here: the choice and the fingerprints only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from loopgrader.course.catalog import load_course
from loopgrader.course.notebook_stub import stub_notebook
from loopgrader.course.stubs import stub_fingerprints
from loopgrader.course.submission import file_started, lesson_source
from notebook_harness import REFERENCE_12, REPO, notebook_from_code, write_notebook

NB = "linear_regression.ipynb"


def test_the_py_counts_unless_it_is_the_untouched_stub(tmp_path: Path) -> None:
    course = load_course(REPO)
    lesson = course.lesson("1.2")
    stubs = stub_fingerprints(course)
    assert lesson.stub is not None
    folder = tmp_path / "1.2"
    folder.mkdir()
    shutil.copy(lesson.stub, folder / "linear_regression.py")
    write_notebook(folder / NB, notebook_from_code(REFERENCE_12.read_text()))
    chosen = lesson_source(lesson, tmp_path, stubs)
    assert chosen.path == folder / NB and chosen.source is not None
    assert chosen.notes[0] == (f"graded {NB}: linear_regression.py beside it is still the "
                               "untouched stub")
    (folder / "linear_regression.py").write_text(REFERENCE_12.read_text())
    chosen = lesson_source(lesson, tmp_path, stubs)
    assert chosen.path == folder / "linear_regression.py" and chosen.source is None
    assert chosen.notes == (f"graded linear_regression.py; {NB} beside it was not graded (when "
                            "both exist, the .py counts unless it is the untouched stub)",)
    (folder / "linear_regression.py").unlink()
    assert lesson_source(lesson, tmp_path, stubs).path == folder / NB
    (folder / NB).unlink()
    assert lesson_source(lesson, tmp_path, stubs).path is None


def test_an_untouched_generated_notebook_stub_is_not_started(tmp_path: Path) -> None:
    course = load_course(REPO)  # the instructors' repository: no stubs.json, computed here
    lesson = course.lesson("1.2")
    assert lesson.stub is not None
    notebook = stub_notebook(lesson.stub.read_text(), "1.2")
    write_notebook(tmp_path / "1.2" / NB, notebook)
    stubs = stub_fingerprints(course)
    assert not file_started(lesson, tmp_path, stubs)
    notebook.cells.insert(3, nbformat.v4.new_code_cell("def helper():\n    return 1"))
    write_notebook(tmp_path / "1.2" / NB, notebook)
    assert file_started(lesson, tmp_path, stubs)
    (tmp_path / "1.2" / NB).write_text("{broken")  # graded, so that its problem is reported
    assert file_started(lesson, tmp_path, stubs)
    assert "is not a Jupyter notebook" in (lesson_source(lesson, tmp_path, stubs).error or "")


def test_a_notebook_only_submission_is_timed_by_its_notebook(tmp_path: Path) -> None:
    from loopgrader.batch.term import find_lesson_file

    lesson = load_course(REPO).lesson("1.2")
    notebook = write_notebook(tmp_path / "ann/exercises/1.2" / NB, nbformat.v4.new_notebook())
    assert find_lesson_file(tmp_path / "ann", lesson) == notebook
    script = tmp_path / "ann/exercises/1.2/linear_regression.py"
    script.write_text("x = 1\n")
    assert find_lesson_file(tmp_path / "ann", lesson) == script
