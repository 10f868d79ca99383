"""What the command modules (``main``, ``quiz``, ``batch``) share: the ``--course`` and
``--debug`` options, finding the course, and turning errors into messages and exit codes.

Errors we expect become ``Error: <message>`` (and a hint) with the error's exit code; Ctrl-C
exits 130, with a message when the command has one to give; anything else is our own bug: one
line, exit code 4, and the traceback only with ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from loopgrader.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, LoopgraderError

if TYPE_CHECKING:
    from loopgrader.course.catalog import Course

__all__ = ["course_option", "debug_option", "guarded", "load_course_from"]

T = TypeVar("T")

course_option = click.option("--course", "course_dir", type=click.Path(file_okay=False,
                             path_type=Path), default=None,
                             help="Course folder (default: found from the current folder).")
debug_option = click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")


def load_course_from(course_dir: Path | None) -> Course:
    """The course at ``--course``, or found by walking up from the current folder."""
    from loopgrader.course.catalog import find_course_root, load_course

    return load_course(find_course_root(Path.cwd(), course_dir))


def guarded(debug: bool, action: Callable[[], T], *, interrupted: str | None = None) -> T:
    """Run ``action``; print our errors for people and exit with their codes."""
    try:
        return action()
    except LoopgraderError as error:
        click.echo(f"Error: {error.message}", err=True)
        if error.hint:
            click.echo(error.hint, err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        click.echo(f"\ninterrupted: {interrupted}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except Exception as error:  # our own bug: say so in one line
        if debug:
            traceback.print_exc()
        click.echo(f"Error: loopgrader itself failed ({type(error).__name__}: {error}); "
                   "run again with --debug for the traceback", err=True)
        sys.exit(EXIT_INTERNAL)
