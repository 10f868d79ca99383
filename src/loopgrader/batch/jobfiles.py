"""``loopgrader jobfiles``: ready job files that grade a class in N shards and merge them, for
Slurm (a job array with a throttle, then a merge job that depends on it), Kubernetes (an
indexed Job, then a merge Job) and GitHub Actions (a matrix workflow for a private repository
of submissions). Every file calls ``loopgrader grade --shard auto``, so the shard always comes
from the scheduler, and the merge refuses a missing or unfinished shard by name.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

from loopgrader._fs import atomic_write_text
from loopgrader.errors import UsageError

__all__ = ["JobSpec", "loopgrader_command", "render_jobfiles", "write_jobfiles"]

SAFE_PATH = re.compile(r"[A-Za-z0-9/._+@-]+")


@dataclass(frozen=True)
class JobSpec:
    """What the job files grade, where, and how wide."""

    course: Path  # the course folder as the nodes see it (Slurm: a shared file system)
    submissions: Path
    results: Path  # shard-K/ folders, logs/ and the merged class/ go here (Slurm)
    shards: int
    throttle: int  # at most this many shards at once
    jobs: int = 2  # --jobs of each shard (cores per task)
    lessons: str = "all"
    timeout: float = 60.0
    memory_mb: int = 4096  # per grading slot
    image: str = "ghcr.io/YOUR-ORG/loopgrader:latest"
    claim: str = "loopgrader-data"  # Kubernetes PersistentVolumeClaim with course/ submissions/
    loopgrader: str = "loopgrader"  # the command on the nodes

    def check(self) -> None:
        if self.shards < 1 or self.throttle < 1 or self.jobs < 1:
            raise UsageError("jobfiles: --shards, --throttle and --jobs must be 1 or more")
        for path in (self.course, self.submissions, self.results, Path(self.loopgrader)):
            if not SAFE_PATH.fullmatch(str(path)):
                raise UsageError(f"jobfiles: {path}: a path in a job file may hold only "
                                 "letters, digits and / . _ - + @ (no spaces or quotes)",
                                 hint="move or link the folder to a plain path")


def write_jobfiles(spec: JobSpec, out: Path) -> list[Path]:
    """Write every job file under ``out``; returns their paths."""
    written = []
    for name, text in render_jobfiles(spec).items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        if name.endswith(".sh") or name.endswith(".sbatch"):
            path.chmod(0o755)
        written.append(path)
    return written


def render_jobfiles(spec: JobSpec) -> dict[str, str]:
    """File name (relative) → text of each job file."""
    spec.check()
    grade_args = ["--jobs", str(spec.jobs), "--timeout", f"{spec.timeout:g}"]
    if spec.lessons != "all":
        grade_args += ["--lessons", spec.lessons]
    memory = spec.jobs * spec.memory_mb + 1024
    values = {
        "shards": str(spec.shards), "throttle": str(spec.throttle), "jobs": str(spec.jobs),
        "memory_mb": str(memory), "memory_gi": f"{(memory + 1023) // 1024}Gi",
        "hours": str(_hours(spec)), "minutes": str(_hours(spec) * 60),
        "loopgrader": shlex.quote(spec.loopgrader), "course": shlex.quote(str(spec.course)),
        "submissions": shlex.quote(str(spec.submissions)),
        "results": shlex.quote(str(spec.results)), "grade_args": shlex.join(grade_args),
        "image": spec.image, "claim": spec.claim, "matrix": ", ".join(
            str(k) for k in range(1, spec.shards + 1)),
        "deadline_s": str(_hours(spec) * 3600 * -(-spec.shards // spec.throttle)),
    }
    return {name: Template(text).substitute(values) for name, text in TEMPLATES.items()}


def _hours(spec: JobSpec) -> int:
    """A generous time limit per shard: every lesson hitting its budget is far beyond it."""
    return max(2, min(48, int(spec.timeout * 5 * 22 / 3600) + 2))


def loopgrader_command() -> str:
    """This loopgrader's command as an absolute path when it is on PATH (a virtual
    environment on a shared file system works on every node)."""
    return shutil.which("loopgrader") or "loopgrader"


SLURM_GRADE = """\
#!/bin/bash
# Grade the class in $shards shards: one Slurm array task per shard, at most $throttle at once.
# Written by `loopgrader jobfiles`; submit with submit.sh (which adds the merge job).
#SBATCH --job-name=loopgrader-grade
#SBATCH --array=1-$shards%$throttle
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=$jobs
#SBATCH --mem=${memory_mb}M
#SBATCH --time=$hours:00:00
#SBATCH --output=$results/logs/grade-%A_%a.out
set -euo pipefail
# --shard auto reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; a task run again resumes.
exec $loopgrader grade $submissions --out $results/shard-"$$SLURM_ARRAY_TASK_ID" \\
    --shard auto --course $course $grade_args
"""

SLURM_MERGE = """\
#!/bin/bash
# Merge every shard's gradebook into $results/class, with the exports.
# Written by `loopgrader jobfiles`; submit.sh starts it after the whole array has ended
# (afterany: a shard that failed is then named by the merge, which refuses to go on).
#SBATCH --job-name=loopgrader-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=1:00:00
#SBATCH --output=$results/logs/merge-%j.out
set -euo pipefail
exec $loopgrader merge $results/shard-* --out $results/class --course $course
"""

SLURM_SUBMIT = """\
#!/bin/bash
# Submit the grading array and the merge job that waits for it. Written by `loopgrader jobfiles`.
# Usage: submit.sh [--wait]   (--wait: return when the merge has ended, with its exit status)
set -euo pipefail
here=$$(cd "$$(dirname "$$0")" && pwd)
mkdir -p $results/logs
array=$$(sbatch --parsable "$$here/grade.sbatch")
array=$${array%%;*}
wait_flag=()
if [[ "$${1:-}" == "--wait" ]]; then wait_flag=(--wait); fi
echo "grading: job array $$array ($shards shards, at most $throttle at once)"
echo "merge: after the array, into $results/class (logs in $results/logs)"
sbatch --parsable "$${wait_flag[@]}" --dependency=afterany:"$$array" --kill-on-invalid-dep=yes \\
    "$$here/merge.sbatch"
"""

K8S_GRADE = """\
# Grade the class in $shards shards: a Kubernetes indexed Job, one completion per shard.
# Written by `loopgrader jobfiles`. The volume claim $claim holds course/ (the course
# folder), submissions/ (one folder or .zip per student) and results/ (written here).
#   kubectl apply -f grade-job.yaml
#   kubectl wait --for=condition=complete --timeout=${hours}h job/loopgrader-grade
#   kubectl apply -f merge-job.yaml
# (backoffLimitPerIndex needs Kubernetes 1.29 or later. If a shard still fails, the Job ends
# Failed rather than Complete: apply merge-job.yaml anyway, and the merge names the shard.)
apiVersion: batch/v1
kind: Job
metadata:
  name: loopgrader-grade
  labels: {app.kubernetes.io/name: loopgrader, app.kubernetes.io/component: grade}
spec:
  completionMode: Indexed
  completions: $shards
  parallelism: $throttle
  backoffLimitPerIndex: 2   # each shard is retried alone; a retry resumes its gradebook
  maxFailedIndexes: $shards
  activeDeadlineSeconds: $deadline_s
  template:
    metadata:
      labels: {app.kubernetes.io/name: loopgrader, app.kubernetes.io/component: grade}
    spec:
      restartPolicy: Never
      containers:
        - name: grade
          image: $image
          # JOB_COMPLETION_INDEX (0-based) is set by Kubernetes; LOOPGRADER_SHARDS gives the
          # count once; --shard auto turns them into shard K of N (K = index + 1).
          env:
            - {name: LOOPGRADER_SHARDS, value: "$shards"}
          command: ["/bin/sh", "-c"]
          args:
            - >-
              exec loopgrader grade /data/submissions
              --out /data/results/shard-$$((JOB_COMPLETION_INDEX + 1))
              --shard auto --course /data/course $grade_args
          resources:
            requests: {cpu: "$jobs", memory: $memory_gi}
            limits: {cpu: "$jobs", memory: $memory_gi}
          # `namespaces` isolation (each student's code in its own network, mount and user
          # namespaces) needs root and CAP_SYS_ADMIN in the pod; without them loopgrader
          # falls back to `limits`, and records the level it used in every row.
          securityContext:
            runAsUser: 0
            capabilities: {add: ["SYS_ADMIN"]}
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: $claim}
"""

K8S_MERGE = """\
# Merge every shard's gradebook into results/class, after job/loopgrader-grade completed.
# Written by `loopgrader jobfiles`; it refuses (naming the shard) if one is missing.
apiVersion: batch/v1
kind: Job
metadata:
  name: loopgrader-merge
  labels: {app.kubernetes.io/name: loopgrader, app.kubernetes.io/component: merge}
spec:
  completions: 1
  backoffLimit: 0
  template:
    metadata:
      labels: {app.kubernetes.io/name: loopgrader, app.kubernetes.io/component: merge}
    spec:
      restartPolicy: Never
      containers:
        - name: merge
          image: $image
          command: ["/bin/sh", "-c"]
          args:
            - >-
              exec loopgrader merge /data/results/shard-*
              --out /data/results/class --course /data/course
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {cpu: "1", memory: 2Gi}
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: $claim}
"""

GITHUB = """\
# Grade the class in $shards shards on GitHub Actions, then merge. Written by `loopgrader
# jobfiles`: copy it to .github/workflows/grade.yml in the PRIVATE repository that holds the
# submissions (one folder or .zip per student under SUBMISSIONS). The course (with its hidden
# graders) comes from another private repository: set the variable COURSE_REPOSITORY
# (owner/name) and a secret COURSE_TOKEN that can read it. Run it from the Actions tab.
name: Grade submissions
on:
  workflow_dispatch:
permissions:
  contents: read
env:
  SUBMISSIONS: submissions/.
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: $minutes
    strategy:
      fail-fast: false
      max-parallel: $throttle
      matrix:
        shard: [$matrix]
    steps:
      - uses: actions/checkout@v4
        with: {path: submissions, persist-credentials: false}
      - uses: actions/checkout@v4
        with:
          repository: $${{ vars.COURSE_REPOSITORY }}
          token: $${{ secrets.COURSE_TOKEN }}
          path: course
          persist-credentials: false
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: python -m pip install ./course
      - name: Grade shard $${{ matrix.shard }} of $${{ strategy.job-total }}
        env:
          LOOPGRADER_SHARD: $${{ matrix.shard }}/$${{ strategy.job-total }}
        # as root (sudo), so that each student's code runs in namespaces of its own; -E keeps
        # LOOPGRADER_SHARD and the GITHUB_* variables the run records (student code gets a
        # scrubbed environment, never this one)
        run: >-
          sudo -E "$$(command -v loopgrader)" grade "$$SUBMISSIONS"
          --out gradebook --shard auto --course course $grade_args
      - uses: actions/upload-artifact@v4
        if: $${{ !cancelled() }}
        with:
          name: gradebook-$${{ matrix.shard }}
          path: gradebook/
          retention-days: 7
  merge:
    needs: grade
    if: $${{ !cancelled() }}
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          repository: $${{ vars.COURSE_REPOSITORY }}
          token: $${{ secrets.COURSE_TOKEN }}
          path: course
          persist-credentials: false
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: python -m pip install ./course
      - uses: actions/download-artifact@v4
        with: {pattern: gradebook-*, path: shards}
      - name: Merge (refused, naming the shard, if one is missing)
        run: loopgrader merge shards/gradebook-* --out class --course course
      - uses: actions/upload-artifact@v4
        with: {name: class-gradebook, path: class/, retention-days: 30}
"""

TEMPLATES = {
    "slurm/grade.sbatch": SLURM_GRADE,
    "slurm/merge.sbatch": SLURM_MERGE,
    "slurm/submit.sh": SLURM_SUBMIT,
    "kubernetes/grade-job.yaml": K8S_GRADE,
    "kubernetes/merge-job.yaml": K8S_MERGE,
    "github/grade.yml": GITHUB,
}
