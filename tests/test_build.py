"""`loopgrader build student` and `build gradescope`, and check's CI outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopgrader.cli.main import cli
from loopgrader.course.catalog import load_course

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "student"
    result = CliRunner().invoke(cli, ["build", "student", str(out), "--course", str(REPO)])
    assert result.exit_code == 0, result.output
    return out


def _distinctive_lines(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if len(line) > 30 and not line.startswith(
        ("import ", "from ", "#", '"""', "def ", "return", "raise ", "class "))]


def test_no_reference_source_and_no_hidden_test_ships(student_repo: Path) -> None:
    shipped = {p: p.read_text(encoding="utf-8", errors="replace")
               for p in student_repo.rglob("*") if p.is_file()}
    assert not [p for p in shipped if "reference" in p.parts or "mutants" in p.parts]
    course = load_course(REPO)
    for lesson in course.lessons:
        if lesson.reference is None or not lesson.reference.is_file():
            continue
        stub = lesson.stub.read_text(encoding="utf-8") if lesson.stub else ""
        # Lines the stub already shows (the contract) are not secret. Three distinct other lines
        # of one reference in one shipped file are a leak: the real leaks this caught (2.3's
        # backprop formulas in probes, a training-loop replica in 1.3) had four; two was only
        # ever the contract's checkpoint keys in 3.8's probes.
        secret = sorted({line for line in _distinctive_lines(lesson.reference)
                         if line not in stub})
        for path, text in shipped.items():
            if path.suffix != ".py" or "exercises" in path.parts:
                continue
            found = [line for line in secret if line in text]
            assert len(found) < 3, f"reference of {lesson.id} leaks into {path}: {found}"
    hidden = re.findall(r"visibility\(\"hidden\"\)\s*\ndef (test_\w+)",
                        (REPO / "graders/1.2/test_linear_regression.py").read_text())
    assert hidden, "lesson 1.2 is expected to have a hidden test"
    for name in hidden:
        assert not [p for p, text in shipped.items() if name in text]


def test_quizzes_are_hashed_and_stubs_fingerprinted(student_repo: Path) -> None:
    quiz = yaml.safe_load((student_repo / "quizzes/1.2.yaml").read_text())
    assert all("answer" not in q and "answer_hash" in q for q in quiz["questions"])
    stubs = json.loads((student_repo / "stubs.json").read_text())
    assert "1.2" in stubs
    assert (student_repo / ".github/workflows/loopgrader.yml").is_file()
    assert "loopgrader check 1.2" in (student_repo / "README.md").read_text()
    manifest = yaml.safe_load((student_repo / "course.yaml").read_text())
    points = {entry["id"]: entry.get("points") for entry in manifest["lessons"]}
    assert points["1.2"] == 20  # the hidden test's point is not in the students' total
    # 2.3's graders import instructor-only helpers optionally: its public tests ship
    assert points["2.3"] >= 20 and (student_repo / "graders/2.3/test_neural_net.py").is_file()
    assert not (student_repo / "graders/2.3/twolayer_math.py").exists()


def test_only_a_required_import_of_an_instructor_only_module_keeps_a_file_out() -> None:
    from loopgrader.course.authoring import imports_any as _imports_any

    private = {"secret_math"}
    assert _imports_any("from secret_math import bugs\n", private)
    assert _imports_any("import secret_math\n", private)
    assert _imports_any("try:\n    import secret_math\nexcept ValueError:\n    pass\n", private)
    assert not _imports_any("try:\n    from secret_math import bugs\nexcept ImportError:\n"
                            "    bugs = None\n", private)
    assert not _imports_any("try:\n    import secret_math\nexcept (ModuleNotFoundError, "
                            "OSError):\n    secret_math = None\n", private)


def _workflow_runs(repo: Path) -> list[str]:
    workflow = yaml.safe_load((repo / ".github/workflows/loopgrader.yml").read_text())
    return [step["run"] for step in workflow["jobs"]["check"]["steps"] if "run" in step]


def test_built_repository_installs_and_grades_with_the_workflow_commands(
        student_repo: Path, tmp_path: Path) -> None:
    repo = tmp_path / "fork"
    shutil.copytree(student_repo, repo)
    subprocess.run([sys.executable, "-m", "venv", str(repo / ".venv")], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV"))}
    env["PATH"] = f"{repo / '.venv' / 'bin'}:{env['PATH']}"
    install, check = _workflow_runs(repo)
    done = subprocess.run(install, shell=True, cwd=repo, env=env, capture_output=True,
                          text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    fresh = subprocess.run(check, shell=True, cwd=repo, env=env, capture_output=True, text=True,
                           timeout=600, check=False)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "No lesson started yet" in fresh.stdout
    ET.parse(repo / "loopgrader-junit.xml")
    stub = subprocess.run("loopgrader check 1.2", shell=True, cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert stub.returncode == 1 and "not started" in stub.stdout
    shutil.copy(REPO / "graders/1.2/reference/linear_regression.py", repo / "exercises/1.2")
    solved = subprocess.run("loopgrader check 1.2 --format json", shell=True, cwd=repo, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    data = json.loads(solved.stdout)
    exercise = [t for t in data["tests"] if not t["name"].startswith("quiz")]
    assert sum(t["score"] for t in exercise) == 20 == sum(t["max_score"] for t in exercise)
    again = subprocess.run(check, shell=True, cwd=repo, env=env, capture_output=True, text=True,
                           timeout=600, check=False)
    suites = ET.parse(repo / "loopgrader-junit.xml").getroot().findall("testsuite")
    assert [s.get("name", "").split()[1] for s in suites] == ["1.2"], again.stdout


def test_building_into_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["build", "student", str(tmp_path), "--course", str(REPO)])
    assert result.exit_code == 2 and "is not an empty folder" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_a_course_that_does_not_validate_is_not_built(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "mini", course)
    (course / "graders/1.1/reference/calc.py").unlink()
    result = CliRunner().invoke(cli, ["build", "student", str(tmp_path / "out"),
                                      "--course", str(course)])
    assert result.exit_code == 3 and "does not validate" in result.stderr
    assert not (tmp_path / "out").exists()


def test_gradescope_bundle_grades_a_simulated_submission(tmp_path: Path) -> None:
    bundle = tmp_path / "autograder.zip"
    result = CliRunner().invoke(cli, ["build", "gradescope", str(bundle), "--course", str(REPO)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder", "course.yaml"} <= set(names)
        assert "graders/1.2/reference/linear_regression.py" in names
        archive.extractall(root / "source")
    assert subprocess.run(["bash", "-n", str(root / "source/setup.sh")]).returncode == 0
    (root / "submission").mkdir()
    shutil.copy(REPO / "graders/1.2/reference/linear_regression.py", root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "LOOPGRADER_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source/run_autograder")], env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((root / "results/results.json").read_text())
    lesson = [t for t in results["tests"] if t["name"].startswith("[1.2]")
              and "quiz" not in t["name"]]
    assert lesson and all(t["status"] == "passed" for t in lesson)
    assert {t["visibility"] for t in lesson} == {"visible", "hidden"}
    assert sum(t["score"] for t in lesson) == 21
    assert "Graded lessons with a file in your upload: 1.2" in results["output"]


def test_junit_and_github_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(FIXTURES))
    out = tmp_path / "junit.xml"
    shutil.copytree(FIXTURES / "mini", tmp_path / "course")
    result = CliRunner().invoke(cli, ["check", "1.1", "--course", str(tmp_path / "course"),
                                      "--submission", str(FIXTURES / "submissions/raises"),
                                      "--format", "junit", "--out", str(out)])
    assert result.exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2" and suite.get("tests") == "3"
    assert ("::error file=submissions/raises/1.1/calc.py,line=2,title=1.1%3A add returns the "
            "sum::add(Tensor[3], Tensor[3]) raised ValueError: nope") in result.stdout
    assert "| 1.1 Adding things | attempted | 1/4 |" in summary.read_text()
