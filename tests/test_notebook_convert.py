"""The notebook converter: what a notebook contributes to the graded source, on awkward notebooks
built with nbformat (no grader runs here)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from loopgrader.course.notebook import convert, convert_notebook
from loopgrader.errors import SubmissionError

v4 = nbformat.v4


def _notebook(*cells: object) -> object:
    return v4.new_notebook(cells=list(cells))


def _run(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "graded"}
    exec(compile(source, "graded.py", "exec"), namespace)
    return namespace


def test_keeps_definitions_and_drops_demos_magics_and_shell_escapes() -> None:
    nb = _notebook(
        v4.new_markdown_cell("# Lesson 1.2"),
        v4.new_code_cell("%matplotlib inline\n!pip install torch\nimport math"),
        v4.new_code_cell("SCALE = 2.0\nNAMES = ('a', 'b')\nf = lambda x: abs(x)\n"
                         "data = list(range(3))\nprint(data)"),
        v4.new_code_cell("def double(x):\n    return SCALE * x\n\ndouble(3)"),
        v4.new_code_cell("for i in range(10):\n    print(double(i))"),
        v4.new_code_cell("if __name__ == '__main__':\n    double(1)"),
    )
    result = convert_notebook(nb, "lesson.ipynb")
    namespace = _run(result.source)
    assert namespace["double"](3) == 6.0  # type: ignore[operator]
    assert "data" not in namespace and "print" not in result.source
    assert "pip" not in result.source and "matplotlib" not in result.source
    assert result.used == (2, 3, 4) and result.left_out == (5, 6)
    notes = [str(n) for n in result.notes]
    assert notes == [
        "cell 2, line 1: dropped an IPython magic (%matplotlib inline)",
        "cell 2, line 2: dropped a shell escape (!pip install torch)",
        "cell 3, line 4: left out an assignment that runs code (not a constant) "
        "(data = list(range(3)))",
        "cell 3, line 5: left out a top-level call (print(data))",
        "cell 4, line 4: left out a top-level call (double(3))",
        "cell 5, line 1: left out a top-level for statement (for i in range(10):)",
        "cell 6, line 1: left out: runs only as a script (if __name__ == '__main__':)",
    ]


def test_later_definition_wins_and_cells_out_of_order_still_work() -> None:
    nb = _notebook(
        v4.new_code_cell("def area(r):\n    return PI * r * r  # PI comes from a later cell"),
        v4.new_code_cell("def area(r):\n    return 0"),
        v4.new_code_cell("def area(r):\n    return PI * square(r)"),
        v4.new_code_cell("PI = 3.0\ndef square(x):\n    return x * x"),
    )
    result = convert_notebook(nb, "n.ipynb")
    assert _run(result.source)["area"](2) == 12.0  # type: ignore[operator]
    assert [str(n) for n in result.notes] == [
        "cell 1, line 1: area is defined again in cell 2; the later one is graded",
        "cell 2, line 1: area is defined again in cell 3; the later one is graded"]


def test_syntax_error_is_named_with_its_cell_and_the_rest_counts() -> None:
    nb = _notebook(v4.new_code_cell("def good():\n    return 1"),
                   v4.new_code_cell("def bad(:\n    pass"))
    result = convert_notebook(nb, "n.ipynb")
    assert _run(result.source)["good"]() == 1  # type: ignore[operator]
    assert result.left_out == (2,)
    assert [str(n) for n in result.notes] == [
        "cell 2, line 1: syntax error, so the whole cell was left out: invalid syntax"]


def test_tags_force_or_skip_cells() -> None:
    forced = v4.new_code_cell("import collections\nCOUNTS = collections.Counter('aab')")
    forced.metadata["tags"] = ["loopgrader"]
    skipped = v4.new_code_cell("def helper():\n    return 'skipped'")
    skipped.metadata["tags"] = ["skip"]
    result = convert_notebook(_notebook(forced, skipped), "n.ipynb")
    namespace = _run(result.source)
    assert namespace["COUNTS"] == {"a": 2, "b": 1} and "helper" not in namespace
    assert [str(n) for n in result.notes] == ["cell 2: left out: tagged skip"]


def test_line_map_points_into_cells() -> None:
    nb = _notebook(v4.new_markdown_cell("intro"),
                   v4.new_code_cell("import math\nprint('demo')"),
                   v4.new_code_cell("print(1)\n\n\ndef f(x):\n    y = 1\n    raise ValueError(x)"))
    result = convert_notebook(nb, "neural_net.ipynb")
    raising = result.source.splitlines().index("    raise ValueError(x)") + 1
    assert result.locate(raising) == "cell 3, line 6 in neural_net.ipynb"
    assert result.locate(1) == "cell 2, line 1 in neural_net.ipynb"
    assert result.locate(999) is None


def test_future_imports_are_hoisted_and_shared_lines_are_split() -> None:
    nb = _notebook(v4.new_code_cell("import math; print('hi')"),
                   v4.new_code_cell("from __future__ import annotations\n"
                                    "def f(x: Tensor) -> int:\n    return math.floor(x)"))
    result = convert_notebook(nb, "n.ipynb")
    assert result.source.startswith("from __future__ import annotations\nimport math\n")
    assert _run(result.source)["f"](2.5) == 2  # type: ignore[operator]


def test_cell_magics_keep_a_python_body_and_drop_others() -> None:
    nb = _notebook(v4.new_code_cell("%%time\ndef timed():\n    return 5"),
                   v4.new_code_cell("%%bash\necho hi"),
                   v4.new_code_cell("   "),
                   v4.new_code_cell("x = 1\nmsg = ('%d'\n       % x)"))
    result = convert_notebook(nb, "n.ipynb")
    namespace = _run(result.source)
    assert namespace["timed"]() == 5 and namespace["msg"] == "1"  # type: ignore[operator]
    assert [str(n) for n in result.notes] == [
        "cell 1, line 1: dropped the cell magic %%time (its body is kept)",
        "cell 2: left out: the cell magic %%bash (not Python)"]
    assert result.used == (1, 4) and result.left_out == (2,)


def test_outputs_with_images_and_bad_bytes_are_tolerated(tmp_path: Path) -> None:
    cell = v4.new_code_cell("def f():\n    return 3\nf()", execution_count=4)
    cell.outputs = [v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                        "text/plain": "<Figure>"}),
                    v4.new_output("stream", name="stdout", text="caf\u00e9 \udcff\n")]
    path = tmp_path / "n.ipynb"
    text = nbformat.writes(_notebook(cell))
    path.write_bytes(text.encode("utf-8", errors="surrogateescape").replace(b"caf", b"caf\xff"))
    result = convert(path)
    assert _run(result.source)["f"]() == 3  # type: ignore[operator]


@pytest.mark.parametrize(("content", "problem"), [
    (b"def f():\n    return 1\n", "is not a Jupyter notebook"),
    (b'{"cells": [', "is not a Jupyter notebook"),
    (json.dumps({"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4,
                 "nbformat_minor": 5}).encode(), "is a damaged Jupyter notebook"),
])
def test_damaged_files_get_one_paragraph_naming_the_file(tmp_path: Path, content: bytes,
                                                         problem: str) -> None:
    path = tmp_path / "neural_net.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError) as caught:
        convert(path)
    assert str(path) in caught.value.message and problem in caught.value.message
    assert "\n" not in caught.value.message and caught.value.hint


def test_imports_of_modules_not_installed_are_left_out_with_a_note() -> None:
    nb = _notebook(v4.new_code_cell("import math\nimport plotting_lib.pyplot as plt\n"
                                    "from plotting_lib import show\ndef f():\n    return 1"))
    result = convert_notebook(nb, "n.ipynb", available=lambda name: name != "plotting_lib")
    assert _run(result.source)["f"]() == 1  # type: ignore[operator]
    assert [str(n) for n in result.notes] == [
        "cell 1, line 2: left out the import of plotting_lib.pyplot: it is not installed where "
        "grading runs",
        "cell 1, line 3: left out the import of plotting_lib: it is not installed where grading "
        "runs"]


def test_messages_about_the_converted_code_point_into_cells(tmp_path: Path) -> None:
    from loopgrader.course.submission import LessonSource

    source = LessonSource(tmp_path / "1.2" / "lr.ipynb", "x\ny\nz\n", ((2, 1), (4, 3), (4, 4)),
                          code_name="lr.py")
    message = (f"{tmp_path}/run/notebooks/1.2/lr.py, line 3: your file does not import\n"
               "  lr.py, line 2, in f: y\nlr.py has no function named 'g'; lr.py, line 9")
    assert source.translate(message) == (
        "cell 4, line 4 in lr.ipynb: your file does not import\n"
        "  cell 4, line 3 in lr.ipynb, in f: y\n"
        "lr.ipynb has no function named 'g'; lr.ipynb, line 9 of its code")
    assert LessonSource(tmp_path / "lr.py").translate("lr.py, line 3") == "lr.py, line 3"


def test_github_annotations_name_the_notebook_and_the_cell(tmp_path: Path) -> None:
    from loopgrader.course.catalog import Lesson
    from loopgrader.course.submission import LessonSource
    from loopgrader.grading.check import CheckReport, LessonCheck
    from loopgrader.output.github import error_annotations
    from loopgrader.records.result import LessonResult, TestResult

    lesson = Lesson("1.2", 1, "LR", "lr.py", 1.0, None, "ready", tmp_path)
    failing = TestResult("fit works", 0, 1, False,
                         message="fit raised ValueError\n  cell 5, line 2 in lr.ipynb, in fit: x")
    source = LessonSource(tmp_path / "subs/1.2/lr.ipynb", "", code_name="lr.py")
    result = LessonResult.from_tests("1.2", (failing,), "cpu", 0.1)
    check = LessonCheck(lesson, result, source=source)
    lines = error_annotations(CheckReport("1.2", (check,), (), "cpu", 0.1), tmp_path / "subs",
                              tmp_path)
    assert lines == ["::error file=subs/1.2/lr.ipynb,title=1.2%3A fit works (cell 5%2C line 2)"
                     "::fit raised ValueError%0A  cell 5, line 2 in lr.ipynb, in fit: x"]


def test_old_and_hostile_notebooks_are_read_without_warnings_or_crashes(tmp_path: Path) -> None:
    def cell(source: str) -> dict[str, object]:
        return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                "execution_count": None}  # no "id": written by an old Jupyter

    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
        "cells": [cell("x = " + "+".join(["1"] * 100_000)), cell("def f():\n    return 1")]}))
    result = convert(path)  # pytest turns warnings into errors here
    assert _run(result.source)["f"]() == 1  # type: ignore[operator]
    assert [str(n) for n in result.notes] == [
        "cell 1: left out: its code is nested too deeply to read"]
