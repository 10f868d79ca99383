"""Which shard this process grades: ``--shard K/N``, or ``--shard auto`` read from the job
scheduler's own environment (a Slurm array task, a Kubernetes indexed Job's completion index, a
GitHub Actions matrix value), and where the run came from (recorded with every run).

Shards are numbered from 1; a 0-based index (Kubernetes) is shifted. A scheduler that does not
tell the shard count (Kubernetes) gets it once: ``--shard auto/N`` or ``LOOPGRADER_SHARDS=N``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from loopgrader.errors import UsageError

__all__ = ["ShardChoice", "choose_shard", "parse_shard", "scheduler_job"]

AUTO_HINT = ("--shard auto reads SLURM_ARRAY_TASK_ID (a Slurm job array), JOB_COMPLETION_INDEX "
             "(a Kubernetes indexed Job, with --shard auto/N or LOOPGRADER_SHARDS=N) or "
             "LOOPGRADER_SHARD=K/N (set it from a GitHub Actions matrix); outside a scheduler "
             "give --shard K/N")


@dataclass(frozen=True)
class ShardChoice:
    """The shard to grade and what chose it."""

    shard: tuple[int, int]
    scheduler: str  # slurm | kubernetes | github-actions | environment | none
    job: str  # the scheduler's name for this task ("slurm job 12 task 3"), or ""
    host: str

    @property
    def text(self) -> str:
        return f"{self.shard[0]}/{self.shard[1]}"


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 ≤ K ≤ N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard: expected K/N such as 2/8, or auto, got {text!r}") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard: K must be between 1 and N, got {text!r}",
                         hint="shards are numbered from 1: for a 0-based index use K=$((I+1))")
    return k, n


def choose_shard(option: str, environ: Mapping[str, str]) -> ShardChoice:
    """The shard ``--shard`` asks for: ``K/N``, ``auto`` or ``auto/N``."""
    scheduler, job = scheduler_job(environ)
    host = socket.gethostname()
    if not option.startswith("auto"):
        return ShardChoice(parse_shard(option), scheduler, job, host)
    count = _given_count(option, environ)
    if "LOOPGRADER_SHARD" in environ:
        shard = _from_variable(environ["LOOPGRADER_SHARD"], count)
    elif "SLURM_ARRAY_TASK_ID" in environ:
        shard = _from_slurm(environ, count)
    elif "JOB_COMPLETION_INDEX" in environ:
        shard = _from_index(environ["JOB_COMPLETION_INDEX"], count)
    elif "SLURM_JOB_ID" in environ:
        raise UsageError("--shard auto: this Slurm job is not a job array "
                         "(SLURM_ARRAY_TASK_ID is not set)",
                         hint="submit it with sbatch --array=1-N, one task per shard")
    else:
        raise UsageError("--shard auto: no scheduler told this process its shard", hint=AUTO_HINT)
    return ShardChoice(shard, scheduler, job, host)


def scheduler_job(environ: Mapping[str, str]) -> tuple[str, str]:
    """The scheduler this process runs under and its name for the task (recorded per run)."""
    if "SLURM_JOB_ID" in environ:
        array = environ.get("SLURM_ARRAY_JOB_ID")
        task = environ.get("SLURM_ARRAY_TASK_ID")
        job = (f"slurm job {array} task {task}" if array and task
               else f"slurm job {environ['SLURM_JOB_ID']}")
        return "slurm", f"{job} on {environ.get('SLURMD_NODENAME', '?')}"
    if "JOB_COMPLETION_INDEX" in environ or "KUBERNETES_SERVICE_HOST" in environ:
        index = environ.get("JOB_COMPLETION_INDEX", "?")
        return "kubernetes", f"pod {environ.get('HOSTNAME', '?')} index {index}"
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github-actions", (f"{environ.get('GITHUB_REPOSITORY', '?')} run "
                                  f"{environ.get('GITHUB_RUN_ID', '?')} job "
                                  f"{environ.get('GITHUB_JOB', '?')}")
    if "LOOPGRADER_SHARD" in environ:
        return "environment", ""
    return "none", ""


def _given_count(option: str, environ: Mapping[str, str]) -> int | None:
    text = option[len("auto"):]
    if text and not text.startswith("/"):
        raise UsageError(f"--shard: expected auto or auto/N, got {option!r}")
    raw = text[1:] if text else environ.get("LOOPGRADER_SHARDS")
    if raw is None:
        return None
    source = "--shard auto/N" if text else "LOOPGRADER_SHARDS"
    return _positive(raw, source)


def _positive(raw: str, source: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{source}: expected a whole number of shards (1 or more), got {raw!r}")
    return value


def _check_count(shard: tuple[int, int], count: int | None, source: str) -> tuple[int, int]:
    if count is not None and count != shard[1]:
        raise UsageError(f"--shard auto: {source} says {shard[1]} shards, but {count} were given",
                         hint="give the shard count once, where the scheduler does not know it")
    return shard


def _from_variable(raw: str, count: int | None) -> tuple[int, int]:
    try:
        shard = parse_shard(raw)
    except UsageError as error:
        raise UsageError(f"LOOPGRADER_SHARD: {error.message}",
                         hint="set it to K/N, e.g. ${{ matrix.shard }}/${{ strategy.job-total }}"
                         ) from None
    return _check_count(shard, count, "LOOPGRADER_SHARD")


def _from_slurm(environ: Mapping[str, str], count: int | None) -> tuple[int, int]:
    try:
        task = int(environ["SLURM_ARRAY_TASK_ID"])
        first = int(environ.get("SLURM_ARRAY_TASK_MIN", "1"))
        last = int(environ.get("SLURM_ARRAY_TASK_MAX", str(task)))
        step = int(environ.get("SLURM_ARRAY_TASK_STEP", "1") or "1")
        total = int(environ.get("SLURM_ARRAY_TASK_COUNT", str((last - first) // step + 1)))
    except ValueError:
        raise UsageError("--shard auto: the SLURM_ARRAY_TASK_* variables are not numbers") \
            from None
    if step < 1 or (last - first) // step + 1 != total or (task - first) % step:
        raise UsageError(f"--shard auto: the job array is not an even range ({total} tasks "
                         f"from {first} to {last})",
                         hint="submit one task per shard: sbatch --array=1-N (a throttle "
                         "such as %8 is fine)")
    return _check_count(((task - first) // step + 1, total), count, "the Slurm array")


def _from_index(raw: str, count: int | None) -> tuple[int, int]:
    if count is None:
        raise UsageError("--shard auto: a Kubernetes indexed Job does not tell its number of "
                         "completions", hint="give it once: --shard auto/N, or set "
                         "LOOPGRADER_SHARDS=N in the pod (N = the Job's completions)")
    try:
        index = int(raw)
    except ValueError:
        index = -1
    if not 0 <= index < count:
        raise UsageError(f"--shard auto: JOB_COMPLETION_INDEX={raw!r} is not an index from 0 "
                         f"to {count - 1}", hint="the Job's completions must equal the shard "
                         "count given with auto/N or LOOPGRADER_SHARDS")
    return index + 1, count
