"""A real Slurm run: a one-node cluster on localhost (munged, slurmctld, slurmd), the job files
of ``loopgrader jobfiles`` submitted as they are (a 4-task array with ``--shard auto``, then the
dependent merge job), and the merged gradebook equal, pair for pair, to one machine's run.

Skipped only where Slurm is not installed and not under CI; under CI (CI=true) a missing Slurm
fails the test: ``.ci/run`` installs it (apt-get install slurmctld slurmd slurm-client munge).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopgrader.batch.grade import BatchOptions, batch_limits, grade_batch, in_shard
from loopgrader.batch.jobfiles import JobSpec, loopgrader_command, write_jobfiles
from loopgrader.course.catalog import Course, load_course
from loopgrader.records.gradebook import FILE_NAME, open_gradebook
from scale_harness import gradable_lessons, synthetic_class
from slurm_harness import SlurmCluster, missing_binaries

REPO = Path(__file__).resolve().parents[1]
SHARDS = 4
STUDENTS = 6
PAIR = ("status", "score", "max_score", "exercise_score", "exercise_max", "quiz_score",
        "quiz_max", "fingerprint", "isolation", "device")
TEST = ("position", "name", "score", "max_score", "passed", "visibility", "category")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    missing = missing_binaries()
    problem = (f"Slurm is not installed ({', '.join(missing)} not found; apt-get install "
               "slurmctld slurmd slurm-client munge)" if missing else
               "the one-node Slurm cluster runs its daemons as root" if os.geteuid() else "")
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}: CI must run the Slurm test")
        pytest.skip(problem)
    cluster = SlurmCluster(Path(tempfile.mkdtemp(prefix="loopgrader-slurm-")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)  # failures quote the logs


def pairs(out: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    db = sqlite3.connect(out / FILE_NAME)
    found: dict[tuple[str, str], tuple[object, ...]] = {}
    for row in db.execute(f"SELECT student, lesson, {', '.join(PAIR)} FROM pairs"):
        tests = db.execute(f"SELECT {', '.join(TEST)} FROM tests WHERE student=? AND lesson=? "
                           "ORDER BY position", row[:2]).fetchall()
        found[row[:2]] = (*row[2:], tuple(tests))
    return found


def test_a_slurm_array_grades_the_class_and_its_merge_equals_one_machine(
        slurm: SlurmCluster, tmp_path: Path) -> None:
    course: Course = load_course(REPO)
    lessons = gradable_lessons(course, "1.2")
    subs = tmp_path / "submissions"
    kinds = synthetic_class(course, lessons, STUDENTS, subs)
    assert {k for k in kinds.values()} - {"missing", "stub"}, kinds
    spec = JobSpec(course=course.root, submissions=subs, results=tmp_path / "results",
                   shards=SHARDS, throttle=2, jobs=1, lessons="1.2", timeout=30,
                   memory_mb=2048, loopgrader=loopgrader_command())
    write_jobfiles(spec, tmp_path / "jobs")
    submit = subprocess.Popen(["bash", str(tmp_path / "jobs" / "slurm" / "submit.sh"), "--wait"],
                              env=slurm.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    # meanwhile, the same class graded on one machine, as one shard
    grade_batch(course, BatchOptions(subs, tmp_path / "single", lessons="1.2",
                                     limits=batch_limits(timeout=30)))
    output, _ = submit.communicate(timeout=240)
    logs = "\n".join(p.read_text() for p in sorted((tmp_path / "results" / "logs").glob("*")))
    assert submit.returncode == 0, f"{output}\n{logs}\n{slurm.logs()}"
    assert "grading: job array" in output and f"{SHARDS} shards" in output

    merged = pairs(tmp_path / "results" / "class")
    single = pairs(tmp_path / "single")
    assert len(single) == STUDENTS * len(lessons)
    assert merged == single  # pair for pair, with every test
    assert (tmp_path / "results" / "class" / "grades_wide.csv").is_file()

    with open_gradebook(tmp_path / "results" / "class", create=False) as book:
        runs = {run.id: run for run in book.run_infos()}
        by_run = book.pair_runs()
    assert sorted(run.shard for run in runs.values()) == [f"{k}/{SHARDS}"
                                                         for k in range(1, SHARDS + 1)]
    for (student, _), run_id in by_run.items():
        run = runs[run_id]  # type: ignore[index]
        k = int(run.shard.split("/")[0])
        assert in_shard(student, (k, SHARDS))
        assert run.source is not None and run.source.scheduler == "slurm"
        assert run.source.job.startswith("slurm job ") and f" task {k} on localnode" in \
            run.source.job
        assert run.finished_at is not None and "--shard auto" in run.command
