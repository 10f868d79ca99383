"""``--shard auto``: the shard read from each scheduler's environment, the count given once where
the scheduler does not tell it, clear errors otherwise; where each run came from."""

from __future__ import annotations

import pytest

from loopgrader.batch.shards import choose_shard, scheduler_job
from loopgrader.errors import UsageError

SLURM = {"SLURM_JOB_ID": "19", "SLURM_ARRAY_JOB_ID": "12", "SLURM_ARRAY_TASK_ID": "3",
         "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
         "SLURM_ARRAY_TASK_STEP": "1", "SLURMD_NODENAME": "node7"}


def test_explicit_shards_are_kept_and_the_environment_is_recorded() -> None:
    choice = choose_shard("2/8", SLURM)
    assert (choice.shard, choice.scheduler, choice.job) == \
        ((2, 8), "slurm", "slurm job 12 task 3 on node7")
    assert choose_shard("1/1", {}).scheduler == "none"
    for bad, message in (("3/2", "between 1 and N"), ("two", "expected K/N"),
                         ("auto3", "auto or auto/N"), ("auto/0", "1 or more")):
        with pytest.raises(UsageError, match=message):
            choose_shard(bad, {"JOB_COMPLETION_INDEX": "0"})


def test_a_slurm_array_task_is_its_shard() -> None:
    assert choose_shard("auto", SLURM).shard == (3, 4)
    zero_based = {**SLURM, "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0",
                  "SLURM_ARRAY_TASK_MAX": "3"}
    assert choose_shard("auto", zero_based).shard == (1, 4)
    stepped = {**SLURM, "SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MAX": "7",
               "SLURM_ARRAY_TASK_STEP": "2"}
    assert choose_shard("auto", stepped).shard == (3, 4)
    assert choose_shard("auto/4", SLURM).shard == (3, 4)
    with pytest.raises(UsageError, match="the Slurm array says 4 shards, but 8 were given"):
        choose_shard("auto/8", SLURM)
    uneven = {**SLURM, "SLURM_ARRAY_TASK_COUNT": "3"}  # --array=1,2,4
    with pytest.raises(UsageError, match="not an even range") as info:
        choose_shard("auto", uneven)
    assert "--array=1-N" in str(info.value)
    with pytest.raises(UsageError, match="not a job array"):
        choose_shard("auto", {"SLURM_JOB_ID": "19"})


def test_a_kubernetes_indexed_job_needs_its_count_once() -> None:
    pod = {"JOB_COMPLETION_INDEX": "0", "HOSTNAME": "grade-0-x7k", "KUBERNETES_SERVICE_HOST": "h"}
    assert choose_shard("auto/4", pod).shard == (1, 4)
    assert choose_shard("auto", {**pod, "LOOPGRADER_SHARDS": "4",
                                 "JOB_COMPLETION_INDEX": "3"}).shard == (4, 4)
    assert scheduler_job(pod) == ("kubernetes", "pod grade-0-x7k index 0")
    with pytest.raises(UsageError, match="does not tell its number of completions") as info:
        choose_shard("auto", pod)
    assert "LOOPGRADER_SHARDS=N" in str(info.value)
    with pytest.raises(UsageError, match="JOB_COMPLETION_INDEX='4' is not an index from 0 to 3"):
        choose_shard("auto/4", {**pod, "JOB_COMPLETION_INDEX": "4"})
    with pytest.raises(UsageError, match="LOOPGRADER_SHARDS: expected a whole number"):
        choose_shard("auto", {**pod, "LOOPGRADER_SHARDS": "many"})


def test_a_github_matrix_value_comes_through_loopgrader_shard() -> None:
    runner = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "prof/submissions",
              "GITHUB_RUN_ID": "99", "GITHUB_JOB": "grade", "LOOPGRADER_SHARD": "2/3"}
    choice = choose_shard("auto", runner)
    assert (choice.shard, choice.scheduler, choice.job) == \
        ((2, 3), "github-actions", "prof/submissions run 99 job grade")
    assert choose_shard("auto", {"LOOPGRADER_SHARD": "1/2"}).scheduler == "environment"
    with pytest.raises(UsageError, match=r"LOOPGRADER_SHARD: --shard: K must be between"):
        choose_shard("auto", {**runner, "LOOPGRADER_SHARD": "4/3"})
    with pytest.raises(UsageError, match="LOOPGRADER_SHARD says 3 shards, but 5 were given"):
        choose_shard("auto/5", runner)


def test_no_scheduler_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="no scheduler told this process its shard") as info:
        choose_shard("auto", {"GITHUB_ACTIONS": "true", "HOME": "/root"})
    assert "SLURM_ARRAY_TASK_ID" in str(info.value) and "--shard K/N" in str(info.value)
