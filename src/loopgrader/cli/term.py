"""The term's commands: ``release`` (hidden feedback), ``regrades`` (what changed between two
runs) and ``similarity`` (how alike submissions are). Thin click layer over
:mod:`loopgrader.batch` and :mod:`loopgrader.records`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from loopgrader._fs import atomic_write_text
from loopgrader.cli.common import course_option, debug_option, guarded, load_course_from

__all__ = ["regrades_command", "release_command", "similarity_command"]


@click.command("release")
@click.argument("lessons")
@click.option("--gradebook", type=click.Path(file_okay=False, exists=True, path_type=Path),
              required=True, help="The --out folder of `loopgrader grade`.")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Roster CSV, to write the LMS files again as well.")
@course_option
@debug_option
def release_command(lessons: str, gradebook: Path, roster: Path | None,
                    course_dir: Path | None, debug: bool) -> None:
    """Show hidden tests' results of LESSONS (1.2,2.3 or a module or all) to students now,
    before their due date, and write the feedback again."""
    from loopgrader.batch.exports import export_gradebook
    from loopgrader.batch.grade import select_batch_lessons
    from loopgrader.records.gradebook import open_gradebook

    def action() -> list[str]:
        course = load_course_from(course_dir)
        chosen = [lesson.id for lesson in select_batch_lessons(course, lessons)]
        with open_gradebook(gradebook, create=False) as book:
            book.release(chosen, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        export_gradebook(course, gradebook, roster=roster)
        return chosen

    released = guarded(debug, action)
    click.echo(f"hidden feedback of {', '.join(released)} released; exports in {gradebook} "
               "written again")


@click.command("regrades")
@click.argument("gradebook", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--from", "before", type=int, default=None, help="The earlier run's id.")
@click.option("--to", "after", type=int, default=None, help="The later run's id.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the changes as CSV.")
@debug_option
def regrades_command(gradebook: Path, before: int | None, after: int | None,
                     csv_out: Path | None, debug: bool) -> None:
    """Students whose score changed between two grading runs (default: the last two), by how
    much, and which tests flipped."""
    from loopgrader.records.gradebook import open_gradebook
    from loopgrader.records.regrades import compare_runs, latest_runs, regrades_csv

    def action() -> tuple[int, int, list[str], str]:
        with open_gradebook(gradebook, create=False) as book:
            first, last = latest_runs(book) if before is None or after is None else \
                (before, after)
            changes = compare_runs(book, first, last)
        return first, last, [c.describe() for c in changes], regrades_csv(changes)

    first, last, lines, text = guarded(debug, action)
    if csv_out is not None:
        guarded(debug, lambda: atomic_write_text(csv_out, text))
    click.echo(f"run {first} -> run {last}: {len(lines)} score(s) changed")
    for line in lines:
        click.echo(f"  {line}")


@click.command("similarity")
@click.argument("submissions", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for similarity/<lesson>.csv and .html.")
@click.option("--lessons", default="all", show_default=True,
              help="Lessons to compare: 1.2,2.3 or a module (2) or all.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Pairs shown side by side per lesson.")
@course_option
@debug_option
def similarity_command(submissions: Path, out: Path, lessons: str, top: int,
                       course_dir: Path | None, debug: bool) -> None:
    """How alike the class's submissions are, per lesson (evidence to read, never a score)."""
    from loopgrader.batch.grade import select_batch_lessons
    from loopgrader.batch.similarity_report import write_similarity

    def action() -> tuple[int, list[tuple[str, str, str, float]]]:
        course = load_course_from(course_dir)
        chosen = [lesson for lesson in select_batch_lessons(course, lessons) if lesson.file]
        run = write_similarity(course, submissions, out, chosen, top)
        return len(run.files), list(run.top)

    count, best = guarded(debug, action)
    for lesson, a, b, score in best:
        click.echo(f"{lesson}: most alike {a} and {b} ({score:.3f})")
    click.echo(f"{count} files written under {out / 'similarity'}")
