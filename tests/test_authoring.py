"""The authoring rules ``validate`` enforces (``loopgrader.course.authoring``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loopgrader.course.authoring import authoring_problems
from loopgrader.course.catalog import load_course

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """The mini course with its planned lesson 1.2 given a graders folder of its own."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "mini", root)
    (root / "graders" / "1.2").mkdir()
    return root


def _problems(root: Path) -> list[str]:
    return authoring_problems(load_course(root))


def test_the_mini_course_and_the_bundled_course_follow_the_rules(course: Path) -> None:
    assert _problems(course) == []
    assert _problems(Path(__file__).resolve().parents[1]) == []


def test_a_helper_name_used_by_two_lessons_is_reported_with_both_files(course: Path) -> None:
    for lesson in ("1.1", "1.2"):
        (course / "graders" / lesson / "shared_math.py").write_text("X = 1\n")
    (found,) = _problems(course)
    assert "shared_math.py" in found and "expected a name no other lesson uses" in found
    assert str(course / "graders" / "1.1" / "shared_math.py") in found
    assert str(course / "graders" / "1.2" / "shared_math.py") in found


def test_probes_may_share_a_name_but_tests_may_not_import_them(course: Path) -> None:
    (course / "graders" / "1.2" / "probes.py").write_text("def p(student):\n    return 1\n")
    assert _problems(course) == []
    test = course / "graders" / "1.1" / "test_uses_probes.py"
    test.write_text("import probes\n\ndef test_x():\n    assert probes\n")
    (found,) = _problems(course)
    assert found.startswith(f"{test}: imports:") and "student.probe" in found


def test_an_unguarded_import_of_an_instructor_only_helper_is_reported(course: Path) -> None:
    graders = course / "graders" / "1.1"
    (graders / "secret_bugs.py").write_text("LOOPGRADER_INSTRUCTOR_ONLY = True\nBUGS = []\n")
    test = graders / "test_bugs.py"
    test.write_text("from secret_bugs import BUGS\n\ndef test_x():\n    assert BUGS == []\n")
    (found,) = _problems(course)
    assert found.startswith(f"{test}: instructor-only helpers (secret_bugs)")
    assert "except ImportError" in found


@pytest.mark.parametrize("source", [
    "try:\n    from secret_bugs import BUGS\nexcept ImportError:\n    BUGS = None\n",
    "import pytest\nfrom secret_bugs import BUGS\n"
    "pytestmark = pytest.mark.visibility('hidden')\n",
], ids=["guarded-import", "hidden-file"])
def test_a_guarded_import_or_a_hidden_file_may_use_instructor_only_helpers(
        course: Path, source: str) -> None:
    graders = course / "graders" / "1.1"
    (graders / "secret_bugs.py").write_text("LOOPGRADER_INSTRUCTOR_ONLY = True\nBUGS = []\n")
    (graders / "test_bugs.py").write_text(source)
    assert _problems(course) == []


@pytest.mark.parametrize("source", [
    "from loopgrader.sandbox.client import ModuleSnapshot\n",
    "import loopgrader.grading.runner\n",
    "def f():\n    from loopgrader import status\n",
], ids=["from-internal", "import-internal", "package-itself"])
def test_a_grader_importing_the_engines_internals_is_reported(course: Path, source: str) -> None:
    helper = course / "graders" / "1.1" / "lesson_helpers.py"
    helper.write_text(source)
    (found,) = _problems(course)
    assert found.startswith(f"{helper}: engine imports: expected imports from loopgrader.checks")


def test_graders_may_import_the_toolkit_and_the_probes(course: Path) -> None:
    (course / "graders" / "1.1" / "lesson_helpers.py").write_text(
        "import loopgrader.checks\nfrom loopgrader import checks, probes\n"
        "from loopgrader.checks.timing import assert_timing\n"
        "from loopgrader.probes import trace\nimport torch\n")
    assert _problems(course) == []
