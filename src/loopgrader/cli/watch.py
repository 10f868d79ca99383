"""``loopgrader watch``: the click command (the only part of watch that prints).

The session (``grading.watch``) grades and decides; this module draws each result: on a
terminal the screen is redrawn in place, elsewhere (a pipe, a log) plain text is appended.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from loopgrader.cli.common import course_option, debug_option, guarded, load_course_from

__all__ = ["Screen", "watch_command"]

CLEAR = "\x1b[H\x1b[2J\x1b[3J"  # cursor home, clear the screen and its scrollback


class Screen:
    """Redraws a terminal in place; appends plain text anywhere else."""

    def __init__(self, stream: TextIO, *, tty: bool) -> None:
        self._stream, self._tty, self._shown = stream, tty, 0

    def show(self, text: str) -> None:
        if self._tty:
            self._write(CLEAR + text + "\n")
        else:
            self._write(("\n" + "─" * 72 + "\n" if self._shown else "") + text + "\n")
        self._shown += 1

    def size(self) -> tuple[int, int] | None:
        """Columns and lines a redrawn screen may use (None: not a terminal, no limit)."""
        if not self._tty:
            return None
        size = shutil.get_terminal_size()
        return max(20, size.columns), max(5, size.lines - 3)

    def status(self, line: str) -> None:
        self._write(("\n" if self._tty else "") + line + "\n")

    def _write(self, text: str) -> None:
        click.echo(text, file=self._stream, nl=False)


@click.command(name="watch")
@click.argument("lessons", nargs=-1, required=True)
@click.option("--submission", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Submission root laid out like exercises/ (default: the course's exercises/).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds one call into your code may take.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--poll/--no-poll", "poll", default=None,
              help="Look at the files every 150 ms instead of waiting for file-system events "
                   "(default: chosen from the file system; network drives and WSL poll).")
@course_option
@debug_option
def watch_command(lessons: tuple[str, ...], submission: Path | None, timeout: float, device: str,
                  poll: bool | None, course_dir: Path | None, debug: bool) -> None:
    """Grade LESSONS now and again on every save of their files or answers.yaml.

    LESSONS: lessons such as 1.2 (several: 1.2 1.3), a module such as 1, or all. The grader
    stays warm, so a re-grade takes a fraction of a `check`. Every grading is recorded like a
    check."""
    from loopgrader.grading.watch import Grading, Update, WatchSession
    from loopgrader.output.watch import grading_text, update_text, watching_text

    lesson = " ".join(lessons)

    def start() -> tuple[Path, WatchSession]:
        course = load_course_from(course_dir)
        root = submission if submission is not None else course.root / "exercises"
        return root, WatchSession(course, lesson, root, device=device, timeout=timeout,
                                  force_polling=poll)

    root, session = guarded(debug, start)
    screen = Screen(sys.stdout, tty=sys.stdout.isatty())

    def draw(update: Update) -> None:
        footer = watching_text(session.files, session.mode.describe(), root)
        screen.show(_fitted(lambda details: update_text(
            update, selector=lesson, root=root, details=details) + "\n\n" + footer,
            screen.size()))

    def loop() -> None:
        with session:
            screen.status(f"Grading {lesson} (the grader starts once; saves grade faster)…")
            for event in session.updates():
                if isinstance(event, Grading):
                    screen.status(grading_text(event, root))
                else:
                    draw(event)

    guarded(debug, loop, interrupted="stopped watching")


def _fitted(render: Callable[[int | None], str], size: tuple[int, int] | None) -> str:
    """The screen with as many failing tests' details as fit ``size`` (columns, lines) once
    long lines wrap; None: everything."""
    text = render(None)
    if size is None:
        return text
    columns, lines = size
    for details in (5, 3, 1, 0):
        if sum(max(1, -(-len(line) // columns)) for line in text.splitlines()) <= lines:
            break
        text = render(details)
    return text
