"""``loopgrader grade`` on one class of hostile, broken and honest submissions, graded together.

One batch (two jobs) grades every attack in ``tests/fixtures/hostile`` beside honest work; each
test then checks one row. Every hostile submission must score no more than the untouched stub
(zero), get a clear status and message, and leave every other submission's result exactly as it
is when graded alone. The attacks assume the ``namespaces`` level (root on Linux): without it,
a worker runs as the grading user and several of them would succeed (see docs/batch.md).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_harness import add_submission, make_course, outcomes, rows, write_file, zip_folder
from loopgrader.cli.batch import grade_command
from loopgrader.course.catalog import load_course
from loopgrader.grading.runner import grade_lessons
from loopgrader.sandbox.isolation import UID_BASE, detect_isolation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(detect_isolation() != "namespaces",
                       reason="the attacks are contained only at the namespaces level (root)"),
]

HOSTILE = ["exit_early", "kill_parent", "kill_own_group", "patches", "patch_builtins", "lying",
           "forge_report", "read_reference", "import_loop", "import_sleep", "memory_bomb",
           "fork_bomb", "output_flood", "write_outside", "network", "escape_group"]
BROKEN = ["syntax_error", "empty", "not_utf8"]
HONEST = ["good", "wrong"]


class Batch:
    def __init__(self, root: Path) -> None:
        self.course = root / "course"
        self.subs = root / "subs"
        self.out = root / "out"
        self.exit_code = 0
        self.output = ""


def _populate(batch: Batch) -> None:
    subs = batch.subs
    for name in HOSTILE + BROKEN + HONEST:
        add_submission(subs, name, name)
    (subs / "good" / "1.1" / "answers.yaml").write_text("plus: a\nfour: 4\n")
    # Configuration and modules named like libraries beside the file: never copied or imported.
    config = add_submission(subs, "conftest_plugin", "good")
    write_file(subs, "conftest_plugin", "import torch\n\ndef add(a, b):\n    return "
               "torch.hostile_marker(a, b)\n\ndef scale(a, k):\n    return "
               "torch.hostile_marker(a, k)\n")
    hook = ("import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport("
            "item, call):\n    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    for place in (config, config / "1.1"):
        (place / "conftest.py").write_text(hook)
    (config / "pytest.ini").write_text("[pytest]\naddopts = -p no:loopgrader.grading.plugin\n")
    for name in ("torch.py", "numpy.py", "loopgrader.py"):
        (config / "1.1" / name).write_text("def hostile_marker(a, b):\n    return a + b\n")
    # A link to the reference solution is not a submission.
    link = subs / "symlink" / "1.1" / "calc.py"
    link.parent.mkdir(parents=True)
    link.symlink_to(batch.course / "graders" / "1.1" / "reference" / "calc.py")
    shutil.copytree(batch.course / "exercises", subs / "stub")
    write_file(subs, "huge", "x = 1\n" * 300_000)
    write_file(subs, "xss", "def add(a, b):\n    raise ValueError('<script>alert(1)</script>')\n"
               "\ndef scale(a, k):\n    return a * 0\n")
    write_file(subs, "answers_only", "plus: a\nfour: 5\n", name="answers.yaml")
    add_submission(subs, "=HYPERLINK(1)", "good")  # a name a spreadsheet would run
    zip_folder(FIXTURES_SUBS / "good", subs / "zipped.zip", prefix="exercises/")
    with zipfile.ZipFile(subs / "zip_slip.zip", "w") as zf:
        zf.writestr("1.1/calc.py", "def add(a, b):\n    return a + b\n")
        zf.writestr("../../evil.py", "print('escaped')\n")


FIXTURES_SUBS = Path(__file__).resolve().parent / "fixtures" / "submissions"


@pytest.fixture(scope="module")
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """The graded batch; under xdist, the first worker grades it and the others read it."""
    base = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):
        base = base.parent  # shared by every xdist worker of this session
    batch = Batch(base / "hostile-batch")
    with open(base / "hostile-batch.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        done = batch.subs.parent / "result.json"
        if not done.exists():
            _grade(batch)
            done.write_text(json.dumps([batch.exit_code, batch.output]))
        batch.exit_code, batch.output = json.loads(done.read_text())
    return batch


def _grade(batch: Batch) -> None:
    make_course(batch.course)
    _populate(batch)
    env = {
        "LOOPGRADER_TEST_REFERENCE": str(batch.course / "graders/1.1/reference/calc.py"),
        "LOOPGRADER_TEST_GRADERS": str(batch.course / "graders/1.1/test_calc.py"),
        "LOOPGRADER_TEST_GRADEBOOK": str(batch.out / "gradebook.sqlite"),
        "LOOPGRADER_TEST_OTHER": str(batch.subs / "good" / "1.1" / "calc.py"),
        "LOOPGRADER_TEST_WRITE_DIR": str(batch.course),
        "GRADER_SECRET_TOKEN": "s3cret",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        result = CliRunner().invoke(grade_command, [
            str(batch.subs), "--out", str(batch.out), "--course", str(batch.course),
            "--jobs", "2", "--timeout", "5"])
    batch.exit_code, batch.output = result.exit_code, result.output + str(result.exception)


def test_the_batch_finishes_and_grades_every_pair(batch: Batch) -> None:
    assert batch.exit_code == 0, batch.output
    found = rows(batch.out)
    assert len(found) == len(HOSTILE) + len(BROKEN) + len(HONEST) + 9
    assert "isolation: namespaces" in batch.output


def test_every_hostile_submission_scores_no_more_than_the_stub(batch: Batch) -> None:
    found = rows(batch.out)
    stub = found["stub"]
    assert (stub["status"], stub["exercise_score"]) == ("not started", 0.0)
    for name in [*HOSTILE, *BROKEN, "conftest_plugin", "symlink", "huge", "xss", "zip_slip"]:
        assert found[name]["exercise_score"] <= stub["exercise_score"], name
        assert found[name]["message"], f"{name} has no message"


@pytest.mark.parametrize("name,status", [
    ("exit_early", "crashed"), ("kill_own_group", "crashed"), ("patch_builtins", "crashed"),
    ("import_loop", "timed out"), ("import_sleep", "timed out"), ("escape_group", "timed out"),
    ("syntax_error", "error"), ("not_utf8", "error"), ("huge", "error"), ("zip_slip", "error"),
    ("symlink", "not submitted"), ("stub", "not started"), ("patches", "graded"),
    ("lying", "graded"), ("output_flood", "graded"), ("conftest_plugin", "graded"),
    ("empty", "graded"), ("fork_bomb", "graded"),
])
def test_each_attack_gets_a_clear_status(batch: Batch, name: str, status: str) -> None:
    assert rows(batch.out)[name]["status"] == status


@pytest.mark.parametrize("name,fragment", [
    ("read_reference", "read: nothing"),
    ("forge_report", "forged outside the scratch folder"),
    ("kill_parent", "parent: refused (PermissionError); parent group: refused"),
    ("fork_bomb", "fork refused after"),
    ("import_loop", "importing your file did not finish within 5 s"),
    ("exit_early", "the process running your code exited with code 0"),
    ("huge", "more than the 1048576 allowed"),
    ("zip_slip", "points outside the archive's folder"),
    ("not_utf8", "your file does not import: SyntaxError"),
])
def test_messages_say_what_happened(batch: Batch, name: str, fragment: str) -> None:
    db = sqlite3.connect(batch.out / "gradebook.sqlite")
    messages = [rows(batch.out)[name]["message"]]
    messages += [str(m) for (m,) in db.execute("SELECT message FROM tests WHERE student=?",
                                                (name,))]
    assert any(fragment in m for m in messages), messages


def test_network_is_unreachable_from_a_worker(batch: Batch) -> None:
    message = str(sqlite3.connect(batch.out / "gradebook.sqlite").execute(
        "SELECT message FROM tests WHERE student='network' AND position=0").fetchone()[0])
    assert "network:" in message and "connected" not in message


def test_nothing_outside_the_scratch_copy_was_written(batch: Batch) -> None:
    # The worker may write into its own private /tmp (thrown away with it), nowhere else.
    db = sqlite3.connect(batch.out / "gradebook.sqlite")
    (message,) = db.execute("SELECT message FROM tests WHERE student='write_outside' AND "
                            "position=0").fetchone()
    assert "wrote:" in message and "pwned.txt" not in message and "sqlite" not in message
    assert not (batch.course / "pwned.txt").exists()
    assert not Path("/tmp/loopgrader-pwned").exists()
    assert not (batch.subs.parent / "evil.py").exists()
    scores = [r["score"] for r in rows(batch.out).values()]
    assert max(scores) <= 6.0  # nobody rewrote the gradebook (4 exercise + 2 quiz points)


def test_honest_results_are_exactly_what_they_are_alone(batch: Batch) -> None:
    found = rows(batch.out)
    good = found["good"]
    assert (good["status"], good["exercise_score"], good["quiz_score"], good["score"]) == \
        ("graded", 4.0, 2.0, 6.0)
    for twin in ("zipped", "=HYPERLINK(1)"):
        assert found[twin]["exercise_score"] == 4.0 and found[twin]["status"] == "graded"
    alone = grade_lessons(load_course(batch.course), [load_course(batch.course).lesson("1.1")],
                          batch.subs / "wrong", device="cpu", timeout=20).results["1.1"]
    assert [(t.name, int(t.passed), t.category) for t in alone.tests] == \
        outcomes(batch.out, "wrong")
    assert found["wrong"]["exercise_score"] == alone.score == 1.0
    answers = found["answers_only"]
    assert (answers["status"], answers["quiz_score"], answers["score"]) == \
        ("not submitted", 1.0, 1.0)


def test_isolation_is_recorded_and_no_sandboxed_process_survives(batch: Batch) -> None:
    graded = [r for r in rows(batch.out).values() if r["status"] != "not submitted"
              and r["status"] != "not started" and r["student"] not in ("huge", "zip_slip")]
    assert {r["isolation"] for r in graded} == {"namespaces"}
    # Only this batch's processes count: under xdist, other tests' sandboxed workers run at the
    # same time. Every worker of this batch carries its LOOPGRADER_TEST_* variables.
    mark = f"LOOPGRADER_TEST_GRADEBOOK={batch.out / 'gradebook.sqlite'}".encode()
    survivors = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = int((entry / "status").read_text().split("Uid:\t")[1].split()[0])
                environ = (entry / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            if uid >= UID_BASE and mark in environ:
                survivors.append(entry.name)
    assert survivors == []


def test_exports_escape_what_students_wrote(batch: Batch) -> None:
    wide = (batch.out / "grades_wide.csv").read_text()
    assert "'=HYPERLINK(1)" in wide and "\n=HYPERLINK" not in wide
    html = next((batch.out / "feedback").glob("xss*.html")).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert (batch.out / "results" / "good" / "results.json").is_file()
    items = (batch.out / "item_analysis.csv").read_text().splitlines()
    assert items[0].startswith("lesson,test,node_id,failed,graded")
    long = (batch.out / "grades_long.csv").read_text().splitlines()
    assert long[0] == "student,lesson,score,max_score,status,integrity"
    assert "good,1.1,6,6,graded," in long

