"""How every command turns errors into messages and exit codes (shared by the CLI modules).

Errors we expect become ``Error: <message>`` (and a hint) with the error's exit code; Ctrl-C
exits 130, with a message when the command has one to give; anything else is our own bug: one
line, exit code 4, and the traceback only with ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

import click

from loopgrader.errors import EXIT_INTERNAL, LoopgraderError

__all__ = ["EXIT_INTERRUPTED", "guarded"]

EXIT_INTERRUPTED = 130
T = TypeVar("T")


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
