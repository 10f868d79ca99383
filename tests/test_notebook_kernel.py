"""Checking from inside a notebook: ``%load_ext loopgrader`` and ``loopgrader.notebook.check``
in a real Jupyter kernel (nbclient + ipykernel), against the CLI on the same files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from loopgrader.course.catalog import Lesson
from loopgrader.grading.check import CheckReport, LessonCheck
from loopgrader.output.html_check import check_html
from loopgrader.records.result import LessonResult, TestResult
from notebook_harness import BUGGY_12, course_copy, notebook_from_code, write_notebook

NB = "linear_regression.ipynb"


def _untimed(html: str) -> str:
    return re.sub(r" in [\d.]+ s</p></div>$", "", html)


def test_the_inline_table_escapes_what_comes_from_the_submission(tmp_path: Path) -> None:
    lesson = Lesson("1.2", 1, "Linear <b>", "linear_regression.py", 2.0, None, "ready", tmp_path)
    tests = (TestResult("predict works", 1, 1, True),
             TestResult("fit <i>converges</i>", 0, 1, False,
                        message="fit raised <script>alert(1)</script>", hint="a & b"))
    result = LessonResult.from_tests("1.2", tests, "cpu", 0.1)
    report = CheckReport("1.2", (LessonCheck(lesson, result),), (), "cpu", 0.5)
    html = check_html(report)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "fit &lt;i&gt;converges&lt;/i&gt;" in html and "a &amp; b" in html
    assert "Linear &lt;b&gt;: attempted (1/2)" in html and "<table" in html


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_magic_and_function_in_a_real_kernel_match_the_cli(tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from loopgrader.cli.main import cli

    course = course_copy(tmp_path / "course")
    folder = course / "exercises/1.2"
    write_notebook(folder / NB, notebook_from_code(BUGGY_12))
    v4 = nbformat.v4
    driver = v4.new_notebook(cells=[
        v4.new_code_cell("%load_ext loopgrader"),
        v4.new_code_cell("%loopgrader check 1.2"),
        v4.new_code_cell("import loopgrader.notebook\nresult = loopgrader.notebook.check('1.2')\n"
                         "print('score', result.score, result.max_score)\nresult"),
        v4.new_code_cell("%loopgrader chek 1.2"),
    ])
    nbclient.NotebookClient(driver, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    cli_run = CliRunner().invoke(cli, ["check", "1.2", "--course", str(course), "--format",
                                       "json"])
    expected = json.loads(cli_run.stdout)["lessons"]["1.2"]
    assert 0 < expected["score"] < 21

    magic = driver.cells[1].outputs[0]["data"]
    html = magic["text/html"]
    assert "<table" in html and f"Lesson 1.2 — The Simplest Case: Linear Regression: attempted (" \
        f"{expected['score']:g}/21)" in html
    assert f"in {NB}, in mse_gradients" in html and "cell " in html
    assert f"Lesson 1.2 — The Simplest Case: Linear Regression: attempted (" \
        f"{expected['score']:g}/21)" in magic["text/plain"]
    printed = driver.cells[2].outputs[0]["text"]
    assert printed.split() == ["score", f"{expected['score'] + 0.0}", "31.0"]
    same = driver.cells[2].outputs[1]["data"]["text/html"]
    assert _untimed(same) == _untimed(html)  # the same table, apart from the time it took
    assert "usage: %loopgrader check LESSON" in driver.cells[3].outputs[0]["text"]
    attempts = [json.loads(p.read_text()) for p in (course / ".loopgrader/attempts").glob("*")]
    assert sorted(a["score"] for a in attempts) == [expected["score"]] * 3
