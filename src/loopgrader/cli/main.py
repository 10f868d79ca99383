"""The command line: thin click commands that forward to plain functions and print results.

Errors become messages and exit codes in ``common``. The quiz and batch commands live in
``quiz`` and ``batch``; ``LazyGroup`` imports them when they are used.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from loopgrader import __version__
from loopgrader.cli.common import course_option, debug_option, guarded, load_course_from
from loopgrader.errors import EXIT_COURSE, EXIT_FAILED, EXIT_OK

__all__ = ["main"]

LAZY_COMMANDS = {"quiz": "loopgrader.cli.quiz:quiz_command",
                 "grade": "loopgrader.cli.batch:grade_command",
                 "merge": "loopgrader.cli.batch:merge_command",
                 "release": "loopgrader.cli.term:release_command",
                 "regrades": "loopgrader.cli.term:regrades_command",
                 "similarity": "loopgrader.cli.term:similarity_command",
                 "watch": "loopgrader.cli.watch:watch_command",
                 "jobfiles": "loopgrader.cli.batch:jobfiles_command"}


class LazyGroup(click.Group):
    """A group whose larger commands are imported only when used (``check`` starts faster)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, name = LAZY_COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="loopgrader")
def cli() -> None:
    """Grade exercises and quizzes of "Learn the Training Loop with PyTorch"."""


@cli.command()
@click.argument("lessons", nargs=-1, required=True)
@click.option("--submission", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Submission root laid out like exercises/ (default: the course's exercises/).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text",
              help="text for people, json (Gradescope's schema) or junit (XML) for CI.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result to this file instead of the terminal.")
@click.option("--only-started", is_flag=True,
              help="Skip lessons whose file is still the untouched stub.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds one call into your code may take.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@course_option
@debug_option
def check(lessons: tuple[str, ...], submission: Path | None, fmt: str, out: Path | None,
          only_started: bool, timeout: float, device: str, course_dir: Path | None,
          debug: bool) -> None:
    """Grade LESSONS: lessons such as 1.2 (several: 1.2 1.3), a module such as 1, or all."""
    from loopgrader._fs import atomic_write_text
    from loopgrader.grading.check import run_check
    from loopgrader.output.junit import check_junit
    from loopgrader.output.text import check_json, check_text

    def action() -> Any:
        course = load_course_from(course_dir)
        root = submission if submission is not None else course.root / "exercises"
        return root, run_check(course=course, selector=" ".join(lessons),
                               submission_root=root,
                               device=device, timeout=timeout, only_started=only_started)

    root, report = guarded(debug, action)
    renderers: dict[str, Callable[[Any], str]] = {
        "text": check_text, "junit": check_junit,
        "json": lambda r: json.dumps(check_json(r), indent=1)}
    text = renderers[fmt](report)
    if out is not None:
        guarded(debug, lambda: atomic_write_text(out, text))
        click.echo(check_text(report) if fmt != "text" else f"results written to {out}")
    else:
        click.echo(text)
    _github_actions(report, root, to_stderr=out is None and fmt != "text")
    sys.exit(EXIT_OK if report.passed else EXIT_FAILED)


def _github_actions(report: Any, submission_root: Path, *, to_stderr: bool) -> None:
    """Under GitHub Actions: error annotations into the student's file and a job summary."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    from loopgrader.output.github import error_annotations, step_summary

    workspace = Path(os.environ.get("GITHUB_WORKSPACE", Path.cwd()))
    for line in error_annotations(report, submission_root, workspace):
        click.echo(line, err=to_stderr)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(step_summary(report))


@cli.command(name="list")
@course_option
@debug_option
def list_lessons(course_dir: Path | None, debug: bool) -> None:
    """List the lessons by module with your progress."""
    from loopgrader.output.text import lessons_text
    from loopgrader.records.progress import load_progress

    course = guarded(debug, lambda: load_course_from(course_dir))
    click.echo(lessons_text(course, guarded(debug, lambda: load_progress(course.root))))


@cli.command()
@course_option
@debug_option
def validate(course_dir: Path | None, debug: bool) -> None:
    """Check the whole course: manifest, stubs, graders, references and quizzes."""
    from loopgrader.grading.validate import validate_course

    problems = guarded(debug, lambda: validate_course(load_course_from(course_dir)))
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(EXIT_COURSE)
    click.echo("course is valid")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "json"]),
              default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of the terminal.")
@click.option("--gradebook", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instructors: a `loopgrader grade --out` folder; use with --student.")
@click.option("--student", default=None, help="Instructors: whose report to show (--gradebook).")
@course_option
@debug_option
def report(fmt: str, out: Path | None, gradebook: Path | None, student: str | None,
           course_dir: Path | None, debug: bool) -> None:
    """Your progress across the course: scores, quizzes, attempts, timings, loss curves.

    Instructors: --gradebook DIR --student NAME shows one student of a graded batch."""
    from loopgrader._fs import atomic_write_text
    from loopgrader.output.report import build_report
    from loopgrader.output.report_render import render_report

    if (gradebook is None) != (student is None):
        raise click.UsageError("--gradebook and --student go together: "
                               "`loopgrader report --gradebook DIR --student NAME`")

    def action() -> str:
        course = load_course_from(course_dir)
        if gradebook is not None and student is not None:
            from loopgrader.batch.term_exports import student_view
            from loopgrader.records.gradebook import load_gradebook_progress

            progress = load_gradebook_progress(gradebook, student,
                                               student_view(course, gradebook))
        else:
            from loopgrader.records.progress import load_progress

            progress = load_progress(course.root)
        return render_report(build_report(course, progress, student=student), fmt)

    text = guarded(debug, action)
    if out is None:
        click.echo(text)
    else:
        guarded(debug, lambda: atomic_write_text(out, text))
        click.echo(f"report written to {out}")


@cli.group()
def build() -> None:
    """Build what the course hands out: the students' repository, a Gradescope bundle."""


@build.command(name="student")
@click.argument("out", type=click.Path(file_okay=True, path_type=Path))
@click.option("--notebooks", is_flag=True,
              help="Also ship a Jupyter notebook version of every stub (made from the .py).")
@course_option
@debug_option
def build_student_command(out: Path, notebooks: bool, course_dir: Path | None,
                          debug: bool) -> None:
    """Write the students' starter repository into OUT (a new or empty folder)."""
    from loopgrader.course.catalog import find_course_root
    from loopgrader.dist.student import build_student

    result = guarded(debug, lambda: build_student(find_course_root(Path.cwd(), course_dir), out,
                                                  notebooks=notebooks))
    hidden = sum(len(v) for v in result.stripped.values())
    click.echo(f"students' repository written to {result.out} ({hidden} hidden or "
               f"reference-dependent tests stripped; public points: "
               f"{', '.join(f'{k} {v:g}' for k, v in sorted(result.points.items()))})")


@build.command(name="gradescope")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@course_option
@debug_option
def build_gradescope_command(out: Path, course_dir: Path | None, debug: bool) -> None:
    """Write a Gradescope autograder bundle (zip) with every grader, hidden ones included."""
    from loopgrader.course.catalog import find_course_root
    from loopgrader.dist.gradescope import build_gradescope

    path = guarded(debug, lambda: build_gradescope(find_course_root(Path.cwd(), course_dir), out))
    click.echo(f"Gradescope autograder written to {path}")




def main() -> None:
    """Console-script entry point."""
    cli(prog_name="loopgrader")
