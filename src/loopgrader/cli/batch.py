"""``loopgrader grade`` and ``loopgrader merge``: thin click commands over :mod:`batch`,
:mod:`gradebook` and :mod:`exports` (registered by ``cli.py``)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from loopgrader.batch.exports import export_gradebook
from loopgrader.batch.grade import BatchOptions, BatchSummary, batch_limits, grade_batch
from loopgrader.batch.jobfiles import JobSpec, loopgrader_command, write_jobfiles
from loopgrader.batch.merge import MergeSummary, merge_gradebooks
from loopgrader.batch.shards import choose_shard
from loopgrader.batch.term import TermOptions
from loopgrader.cli.common import course_option, debug_option, guarded, load_course_from
from loopgrader.cli.progressbar import make_listener

__all__ = ["grade_command", "jobfiles_command", "merge_command"]

MERGE_INTERRUPTED = "the merged gradebook was left as it was before this merge"
INTERRUPTED = ("every submission graded so far is saved in the gradebook; run the same "
               "command again to resume")


def _summary_text(summary: BatchSummary, out: Path) -> str:
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items())) or "none"
    skipped = summary.pairs - summary.graded
    return (f"{summary.students} students, {summary.pairs} (student, lesson) pairs: "
            f"{summary.graded} graded now ({statuses}), {skipped} already in the gradebook; "
            f"{summary.duration_s:.1f} s; isolation: {summary.isolation}\n"
            f"gradebook and exports in {out}")


@click.command("grade")
@click.argument("submissions", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the gradebook and the exports (created if needed).")
@click.option("--lessons", default="all", show_default=True,
              help="Lessons to grade: 1.2,2.3 or a module (2) or all.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Submissions graded at the same time (about one per core).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds one call into a student's code may take.")
@click.option("--force", is_flag=True, help="Grade again pairs the gradebook already holds.")
@click.option("--shard", default="1/1", show_default=True,
              help="Grade only shard K of N (K from 1), for a CI matrix or a job array; "
              "auto (or auto/N): read it from Slurm, a Kubernetes indexed Job or "
              "LOOPGRADER_SHARD.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="cpu",
              show_default=True)
@click.option("--isolation", type=click.Choice(["auto", "namespaces", "limits"]),
              default="auto", show_default=True,
              help="How student code is sandboxed (auto: the strongest available).")
@click.option("--memory-mb", type=click.IntRange(min=0), default=None,
              help="Address-space limit per worker in MiB (default 4096 on cpu; 0: none).")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Roster CSV (student, name, email, lms_id, sis_id, section): LMS files.")
@click.option("--extensions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Extensions CSV (student, lesson or all, due or extra_days).")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Submission times CSV (student, submitted_at[, lesson]) from your LMS.")
@click.option("--submitted-from", type=click.Choice(["manifest", "git", "file"]), default=None,
              help="Where submission times come from (default: manifest if given, else file).")
@course_option
@debug_option
def grade_command(submissions: Path, out: Path, lessons: str, jobs: int, timeout: float,
                  force: bool, shard: str, device: str, isolation: str, memory_mb: int | None,
                  roster: Path | None, extensions: Path | None, manifest: Path | None,
                  submitted_from: str | None, course_dir: Path | None, debug: bool) -> None:
    """Grade every submission in SUBMISSIONS (a folder or .zip per student) with every grader."""

    def action() -> BatchSummary:
        course = load_course_from(course_dir)
        origin = choose_shard(shard, os.environ)
        options = BatchOptions(
            submissions=submissions.resolve(), out=out.resolve(), lessons=lessons, jobs=jobs,
            force=force, shard=origin.shard, origin=origin, device=device,
            isolation=isolation,
            limits=batch_limits(device, timeout, None if memory_mb is None else memory_mb << 20),
            command=shlex.join(["loopgrader", *sys.argv[1:]]),
            term=TermOptions(roster=roster, extensions=extensions, manifest=manifest,
                             submitted_from=submitted_from))
        summary = grade_batch(course, options, make_listener(sys.stderr))
        export_gradebook(course, options.out, roster=roster)
        return summary

    summary = guarded(debug, action, interrupted=INTERRUPTED)
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(_summary_text(summary, out))


@click.command("merge")
@click.argument("gradebooks", nargs=-1, required=True,
                type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder of the combined gradebook and its exports.")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Roster CSV: also write the Canvas and Moodle files.")
@course_option
@debug_option
def merge_command(gradebooks: tuple[Path, ...], out: Path, roster: Path | None,
                  course_dir: Path | None, debug: bool) -> None:
    """Combine the gradebooks of every shard (their --out folders) into --out, with exports.

    Refused unless the gradebooks are every shard of one split, once each, finished, and
    graded with the course's graders as they are now."""

    def action() -> MergeSummary:
        course = load_course_from(course_dir)
        result = merge_gradebooks(course, out, gradebooks)
        export_gradebook(course, out, roster=roster)
        return result

    summary = guarded(debug, action, interrupted=MERGE_INTERRUPTED)
    click.echo(f"merged {summary.sources} gradebooks (all {summary.shards} shards, "
               f"{summary.pairs} pairs) into {out}: {summary.students} students")


@click.command("jobfiles")
@click.argument("submissions", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the job files (slurm/, kubernetes/, github/).")
@click.option("--shards", type=click.IntRange(min=1), required=True,
              help="How many shards the class is graded in (N of --shard K/N).")
@click.option("--throttle", type=click.IntRange(min=1), default=None,
              help="At most this many shards at once (default: all).")
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Slurm: shared folder for shard-K/, logs/ and class/ (default: "
              "SUBMISSIONS/../results).")
@click.option("--lessons", default="all", show_default=True, help="Lessons to grade.")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Cores per shard (--jobs of each grade).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True)
@click.option("--image", default=JobSpec.image, show_default=True,
              help="Kubernetes: a container image with loopgrader installed.")
@click.option("--claim", default=JobSpec.claim, show_default=True,
              help="Kubernetes: the PersistentVolumeClaim holding course/, submissions/, "
              "results/.")
@course_option
@debug_option
def jobfiles_command(submissions: Path, out: Path, shards: int, throttle: int | None,
                     results: Path | None, lessons: str, jobs: int, timeout: float, image: str,
                     claim: str, course_dir: Path | None, debug: bool) -> None:
    """Write job files that grade SUBMISSIONS in shards and merge them: a Slurm array and
    merge job, a Kubernetes indexed Job, a GitHub Actions matrix workflow."""

    def action() -> list[Path]:
        course = load_course_from(course_dir)
        folder = submissions.resolve()
        spec = JobSpec(course=course.root, submissions=folder,
                       results=(results or folder.parent / "results").resolve(), shards=shards,
                       throttle=throttle or shards, jobs=jobs, lessons=lessons, timeout=timeout,
                       image=image, claim=claim, loopgrader=loopgrader_command())
        return write_jobfiles(spec, out)

    for path in guarded(debug, action):
        click.echo(f"wrote {path}")
    click.echo(f"Slurm: bash {out / 'slurm' / 'submit.sh'}\n"
               f"Kubernetes: see the top of {out / 'kubernetes' / 'grade-job.yaml'}\n"
               f"GitHub: copy {out / 'github' / 'grade.yml'} to .github/workflows/ in the "
               "submissions repository")
