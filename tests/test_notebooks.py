"""Notebooks as submissions, end to end through the real CLI: check, grade (folders and zips)
and the Gradescope bundle give a notebook the same score as the same code in a .py."""

from __future__ import annotations

import ast
import json
import sqlite3
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from loopgrader.cli.batch import grade_command
from loopgrader.cli.main import cli
from notebook_harness import (
    BUGGY_12,
    REFERENCE_12,
    REPO,
    course_copy,
    notebook_from_code,
    write_notebook,
)

pytestmark = pytest.mark.slow
NB = "linear_regression.ipynb"


def _check(course: Path, submission: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", "1.2", "--course", str(course), "--submission",
                                      str(submission), "--timeout", "20", *args])
    return result.exit_code, result.stdout


def test_check_grades_a_notebook_like_the_same_code_in_a_py(tmp_path: Path) -> None:
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    (subs / "py/1.2").mkdir(parents=True)
    (subs / "py/1.2/linear_regression.py").write_text(BUGGY_12, encoding="utf-8")
    write_notebook(subs / "nb/1.2" / NB, notebook_from_code(BUGGY_12))
    write_notebook(subs / "good/1.2" / NB, notebook_from_code(REFERENCE_12.read_text()))
    results = {}
    for name in ("py", "nb"):
        code, out = _check(course, subs / name, "--format", "json")
        assert code == 1, out
        results[name] = json.loads(out)
    assert results["nb"]["lessons"]["1.2"]["score"] == results["py"]["lessons"]["1.2"]["score"]
    assert 0 < results["py"]["lessons"]["1.2"]["score"] < 21
    assert results["nb"]["lessons"]["1.2"]["graded_file"] == NB
    assert results["py"]["lessons"]["1.2"]["graded_file"] == "linear_regression.py"
    assert any("dropped a shell escape" in n for n in results["nb"]["lessons"]["1.2"]["notes"])
    assert [t["status"] for t in results["nb"]["tests"]] == \
        [t["status"] for t in results["py"]["tests"]]
    output = "\n".join(t["output"] for t in results["nb"]["tests"])
    assert f"in {NB}, in mse_gradients: return 2.0 / n * (X @ residual)" in output
    assert "linear_regression.py" not in output and ", line " in output

    code, text = _check(course, subs / "good")
    assert code == 1 and "Lesson 1.2 — The Simplest Case: Linear Regression: passed (21/21)" \
        in text  # exit 1: the quiz is not answered
    assert f"note: {NB}: code taken from cells" in text
    assert "dropped a shell escape (!pip install torch)" in text
    assert "dropped an IPython magic (%matplotlib inline)" in text
    attempts = list((course / ".loopgrader/attempts").glob("*.json"))
    assert len(attempts) == 3


def test_only_started_and_the_rule_when_both_files_exist(tmp_path: Path) -> None:
    course = course_copy(tmp_path / "course")
    sub = tmp_path / "sub"
    (sub / "1.2").mkdir(parents=True)
    (sub / "1.2/linear_regression.py").write_bytes(
        (course / "exercises/1.2/linear_regression.py").read_bytes())
    code, text = _check(course, sub, "--only-started")
    assert code == 0 and "No lesson started yet" in text
    write_notebook(sub / "1.2" / NB, notebook_from_code(REFERENCE_12.read_text()))
    code, text = _check(course, sub, "--only-started")
    assert "passed (21/21)" in text
    assert f"note: graded {NB}: linear_regression.py beside it is still the untouched stub" \
        in text


def test_grade_scores_notebooks_in_folders_and_zips_like_py_files(tmp_path: Path) -> None:
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    for student, code in (("a_py_good", REFERENCE_12.read_text()), ("c_py_buggy", BUGGY_12)):
        (subs / student / "1.2").mkdir(parents=True)
        (subs / student / "1.2/linear_regression.py").write_text(code, encoding="utf-8")
    write_notebook(subs / "b_nb_good/1.2" / NB, notebook_from_code(REFERENCE_12.read_text()))
    write_notebook(subs / "d_nb_buggy/1.2" / NB, notebook_from_code(BUGGY_12))
    zipped = write_notebook(tmp_path / "zip/1.2" / NB, notebook_from_code(BUGGY_12))
    with zipfile.ZipFile(subs / "e_nb_zip.zip", "w") as archive:
        archive.write(zipped, f"exercises/1.2/{NB}")
    (subs / "f_damaged/1.2").mkdir(parents=True)
    (subs / "f_damaged/1.2" / NB).write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(grade_command, [str(subs), "--out", str(out), "--course",
                                                str(course), "--lessons", "1.2",
                                                "--timeout", "20"])
    assert result.exit_code in (0, 1), result.output
    db = sqlite3.connect(out / "gradebook.sqlite")
    db.row_factory = sqlite3.Row
    rows = {r["student"]: r for r in db.execute("SELECT * FROM pairs WHERE lesson='1.2'")}
    score = {student: row["exercise_score"] for student, row in rows.items()}
    assert score["a_py_good"] == score["b_nb_good"] == 21
    assert score["c_py_buggy"] == score["d_nb_buggy"] == score["e_nb_zip"] < 21
    assert rows["f_damaged"]["status"] == "error"
    assert f"{NB}: this file is not a Jupyter notebook" in rows["f_damaged"]["message"]
    assert rows["d_nb_buggy"]["status"] == "graded"
    messages = " ".join(str(m) for (m,) in db.execute(
        "SELECT message FROM tests WHERE student='d_nb_buggy' AND message IS NOT NULL"))
    assert f"in {NB}, in mse_gradients" in messages and "cell " in messages


def test_the_gradescope_autograder_grades_an_uploaded_notebook(tmp_path: Path) -> None:
    from loopgrader.dist.gradescope_run import run_autograder

    root = tmp_path / "autograder"
    course_copy(root / "source")
    write_notebook(root / "submission" / NB, notebook_from_code(REFERENCE_12.read_text()))
    results = run_autograder(root)
    lesson = [t for t in results["tests"]  # type: ignore[attr-defined]
              if t["name"].startswith("[1.2]") and "quiz" not in t["name"]]
    assert lesson and all(t["status"] == "passed" for t in lesson)
    assert sum(t["score"] for t in lesson) == 21
    assert "Graded lessons with a file in your upload: 1.2" in str(results["output"])
    assert f"1.2: {NB}: code taken from cells" in str(results["output"])


def _paste_reference(notebook: object, reference: str) -> None:
    """Replace each code cell's definitions (and the imports cell) with the reference's."""
    tree = ast.parse(reference)
    lines = reference.splitlines()
    defs = {stmt.name: "\n".join(lines[stmt.lineno - 1:stmt.end_lineno]) for stmt in tree.body
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef))}
    imports = "\n".join(ast.get_source_segment(reference, stmt) or "" for stmt in tree.body
                        if isinstance(stmt, (ast.Import, ast.ImportFrom)))
    for cell in notebook.cells:  # type: ignore[attr-defined]
        if cell.cell_type != "code" or cell.source.startswith("%"):
            continue
        body = ast.parse(cell.source).body
        names = [s.name for s in body if isinstance(s, (ast.FunctionDef, ast.ClassDef))]
        cell.source = "\n\n".join(defs[n] for n in names) if names else imports


def test_built_notebook_stubs_grade_not_started_untouched_and_full_with_the_reference(
        tmp_path: Path) -> None:
    out = tmp_path / "student"
    result = CliRunner().invoke(cli, ["build", "student", str(out), "--notebooks",
                                      "--course", str(REPO)])
    assert result.exit_code == 0, result.output
    stub = out / "exercises/1.2" / NB
    notebook = nbformat.read(stub, as_version=4)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and "Linear Regression" in notebook.cells[0].source
    assert notebook.cells[-1].source == "%load_ext loopgrader\n%loopgrader check 1.2"
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert any(c.startswith("def predict(") and "TODO" in c and '"""' not in c for c in code)
    assert any("Predictions of the linear model" in c.source for c in notebook.cells
               if c.cell_type == "markdown")
    assert "1.2.ipynb" in json.loads((out / "stubs.json").read_text())

    sub = tmp_path / "sub"
    write_notebook(sub / "1.2" / NB, notebook)
    _, text = _check(out, sub, "--only-started")
    assert "No lesson started yet" in text
    _, text = _check(out, sub)
    assert "Linear Regression: not started (0/20)" in text and f"1.2/{NB}" in text

    _paste_reference(notebook, REFERENCE_12.read_text())
    write_notebook(sub / "1.2" / NB, notebook)
    _, text = _check(out, sub)
    assert "Linear Regression: passed (20/20)" in text, text
