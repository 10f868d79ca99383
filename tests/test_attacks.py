"""The attack suite: hostile submissions (tests/fixtures/attacks) through ``check`` and ``grade``.

Each attack class runs through ``loopgrader check`` and through ``loopgrader grade`` at every
isolation level this machine offers, beside honest neighbours, and must end with:

- the stub's score (0) for the attacker, and a message saying its attack reached nothing;
- the honest neighbour's exact score (4/4), as when graded alone;
- no process left behind (counted by the thread name the attacks give their survivors);
- nothing read outside the allow-list (secrets planted at several paths) and nothing written
  where a score is decided (report, run plan, attempt files, gradebook);
- with ``--jobs 2``, each job slot on CPUs of its own.

The ``limits`` level does not hide readable files: the planted secrets are found there, which
the suite records as an expected failure (docs/security.md). The last test builds the jail as an
ordinary user (``nobody``) through user namespaces.

The attacks act only on processes and files marked with this run's token, so a failing run
harms nothing else on the machine; survivors are killed after being counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import loopgrader
from batch_harness import make_course, rows
from loopgrader.cli.batch import grade_command
from loopgrader.course.catalog import load_course
from loopgrader.grading.check import run_check
from loopgrader.records.progress import load_progress
from loopgrader.sandbox.isolation import detect_isolation

pytestmark = pytest.mark.slow

ATTACKS = Path(__file__).resolve().parent / "fixtures" / "attacks"
HONEST = Path(__file__).resolve().parent / "fixtures" / "submissions" / "good"
LEVELS = ["limits", *(["namespaces"] if detect_isolation() == "namespaces" else [])]
TOKEN = uuid.uuid4().hex
MARK = "LOOPGRADER-PLANTED-SECRET"
SECRET = f"# {MARK}\ndef add(a, b):\n    return a + b\n\n\ndef scale(a, k):\n    return k * a\n"
# What each attack's message must say when it reached nothing.
NOTHING = {"secrets": "read: nothing", "spy": "spied: nothing", "forge": "forged: nothing"}
# The limits level promises no hidden files (docs/security.md): planted copies stay readable.
READABLE_AT_LIMITS = pytest.mark.xfail(strict=True, reason="limits does not hide readable files")


def _cases(attacks: list[str]) -> list[object]:
    return [pytest.param(attack, level, marks=[READABLE_AT_LIMITS]
                         if (attack, level) == ("secrets", "limits") else [])
            for attack in attacks for level in LEVELS]


def survivors() -> list[int]:
    """Processes with a thread named as the attacks name what they leave behind."""
    name = "lgs" + TOKEN[:8]
    found = []
    for task in Path("/proc").glob("[0-9]*/task/[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if task.read_text().strip() == name:
                found.append(int(task.parts[2]))
    return sorted(set(found))


def kill_survivors() -> None:
    for pid in survivors():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _secret_places() -> list[Path]:
    """Copies of the reference where a careless machine keeps them, plus the checkout the
    package was installed from (an editable install puts the course beside the package)."""
    checkout = Path(loopgrader.__file__).resolve().parents[2]
    places = [Path("/opt"), Path("/srv"), Path("/root"), Path("/home"), Path("/work"), checkout]
    return [place / f"lg-secret-{TOKEN[:8]}" / "calc.py" for place in places]


@pytest.fixture(scope="module", autouse=True)
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    planted: list[Path] = []
    for path in _secret_places():
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True)
            path.write_text(SECRET, encoding="utf-8")
            planted.append(path)
    gradebook = tmp_path_factory.mktemp("gb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPGRADER_TEST_TOKEN", TOKEN)
        patch.setenv("LOOPGRADER_TEST_SECRETS", os.pathsep.join(map(str, planted)))
        patch.setenv("LOOPGRADER_TEST_GRADEBOOK", str(gradebook / "gradebook.sqlite"))
        yield planted
    kill_survivors()
    for path in planted:
        shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    kill_survivors()
    yield
    kill_survivors()


def _course(root: Path, attack: str) -> Path:
    course = make_course(root / "course")
    shutil.copyfile(ATTACKS / attack / "1.1" / "calc.py", course / "exercises" / "1.1" / "calc.py")
    return course


def _check(course_root: Path, level: str, submission: Path | None = None) -> tuple[float, str]:
    course = load_course(course_root)
    report = run_check(course=course, selector="1.1", isolation=level, timeout=5,
                       submission_root=submission or course_root / "exercises", device="cpu")
    (check,) = report.checks
    assert check.exercise is not None
    messages = "\n".join(t.message or "" for t in check.exercise.tests)
    return check.exercise.score, messages


@pytest.mark.parametrize("attack,level", _cases(["linger", "secrets", "spy", "forge"]))
def test_check_holds(tmp_path: Path, attack: str, level: str, planted: list[Path]) -> None:
    course = _course(tmp_path, attack)
    score, messages = _check(course, level)
    left = survivors()
    assert left == [], f"{len(left)} processes outlived check"
    assert score == 0.0, messages
    if attack in NOTHING:
        assert NOTHING[attack] in messages, messages
    attempts = load_progress(course).attempts
    assert [a.score for a in attempts] == [0.0], "an attempt was forged"
    assert not list((course / ".loopgrader").rglob(f"*{TOKEN[:8]}*"))
    assert planted, "no secret could be planted"


@pytest.mark.parametrize("level", LEVELS)
def test_check_after_a_haunting_submission_is_exact(tmp_path: Path, level: str) -> None:
    course = _course(tmp_path, "haunt")
    assert _check(course, level)[0] == 0.0
    left = survivors()
    honest = tmp_path / "honest"
    shutil.copytree(HONEST, honest)
    score, messages = _check(course, level, honest)
    assert left == [], f"{len(left)} processes outlived check"
    assert score == 4.0, messages


@pytest.fixture(scope="module", params=LEVELS)
def graded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, str, list[int]]:
    """One batch per level: every attack beside honest work, two jobs at a time."""
    level = str(request.param)
    root = tmp_path_factory.mktemp(f"batch-{level}")
    course = make_course(root / "course")
    subs = root / "subs"
    for attack in ("linger", "haunt", "secrets", "spy", "forge"):
        shutil.copytree(ATTACKS / attack, subs / f"a_{attack}")
    for name in ("z_good1", "z_good2", "z_good3"):
        shutil.copytree(HONEST, subs / name)
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPGRADER_TEST_GRADEBOOK", str(out / "gradebook.sqlite"))
        result = CliRunner().invoke(grade_command, [
            str(subs), "--out", str(out), "--course", str(course), "--jobs", "2",
            "--timeout", "5", "--isolation", level])
    left = survivors()
    kill_survivors()
    assert result.exit_code == 0, result.output + str(result.exception)
    return out, level, left


def test_grade_leaves_no_process_behind(graded: tuple[Path, str, list[int]]) -> None:
    assert graded[2] == [], f"{len(graded[2])} processes outlived grade"


@pytest.mark.parametrize("attack", ["linger", "haunt", "secrets", "spy", "forge"])
def test_grade_gives_attacks_the_stub_score(graded: tuple[Path, str, list[int]],
                                            attack: str) -> None:
    out = graded[0]
    if (attack, graded[1]) == ("secrets", "limits"):
        pytest.xfail("limits does not hide readable files (docs/security.md)")
    row = rows(out)[f"a_{attack}"]
    assert row["exercise_score"] == 0.0
    if attack in NOTHING:
        messages = [str(m) for (m,) in sqlite3.connect(out / "gradebook.sqlite").execute(
            "SELECT message FROM tests WHERE student=?", (f"a_{attack}",))]
        assert any(NOTHING[attack] in m for m in messages), messages


def test_grade_pins_each_job_slot_to_its_own_cpus(graded: tuple[Path, str, list[int]]) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("one CPU: job slots share it")
    (message,) = sqlite3.connect(graded[0] / "gradebook.sqlite").execute(
        "SELECT message FROM tests WHERE student='a_spy' AND position=0").fetchone()
    seen = json.loads(str(message).split("(cpus ", 1)[1].split(")", 1)[0])
    assert seen and len(seen) <= len(cpus) // 2 and set(seen) <= set(cpus), seen


def test_grade_keeps_honest_neighbours_exact(graded: tuple[Path, str, list[int]]) -> None:
    found = rows(graded[0])
    for name in ("z_good1", "z_good2", "z_good3"):
        assert (found[name]["status"], found[name]["exercise_score"]) == ("graded", 4.0), name
    assert max(r["score"] for r in found.values()) <= 6.0  # nobody rewrote the gradebook
    assert {r["isolation"] for r in found.values()} == {graded[1]}
    results = json.loads((graded[0] / "results" / "z_good1" / "results.json").read_text())
    assert results["score"] == 4.0


UNPRIVILEGED = 65534  # nobody


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv")
                    or not Path("/usr/bin/python3").exists(),
                    reason="needs root to switch to an ordinary user, setpriv and a system Python")
def test_an_ordinary_user_gets_the_jail_through_user_namespaces(tmp_path: Path) -> None:
    """``check`` as an ordinary user: the jail built without root (user namespaces), attacked
    from inside. Only the standard library is needed, so the system's Python runs it."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "report.json").write_text("honest")
    for path in (tmp_path, results, results / "report.json"):
        os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
    secret = Path("/opt") / f"lg-secret-{TOKEN[:8]}-user" / "calc.py"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(SECRET)
    name = "lgu" + TOKEN[:8]
    try:
        proc = subprocess.run(
            ["setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--clear-groups",
             "/usr/bin/python3", str(ATTACKS / "unprivileged" / "jail_probe.py"), str(results),
             str(secret), name],
            capture_output=True, text=True, timeout=120, check=False, cwd="/",
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(loopgrader.__file__).parents[1]),
                 "PYTHONDONTWRITEBYTECODE": "1"})
    finally:
        shutil.rmtree(secret.parent, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["level"] != "namespaces":
        pytest.skip("this kernel refuses unprivileged user namespaces")
    seen = report["seen"]
    assert seen["uid"] == UNPRIVILEGED
    assert seen["report"] != "allowed" and seen["secret"] != "allowed", seen
    assert seen["processes"] <= 2, seen  # its own PID namespace: itself and its init
    assert report["survivors"] == 0
    assert (results / "report.json").read_text() == "honest"
