"""``loopgrader quiz LESSON``: take a lesson's quiz in the terminal or answer it from a file.

A thin click command over :func:`loopgrader.quiz.take.run_quiz`, with the shared ``--course``
and ``--debug`` options and error handling of :mod:`loopgrader.cli.common`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loopgrader.cli.common import course_option, debug_option, guarded, load_course_from
from loopgrader.errors import UsageError
from loopgrader.quiz.session import Console
from loopgrader.quiz.take import run_quiz

__all__ = ["quiz_command"]


def _terminal_console() -> Console:
    return Console(ask=input, say=click.echo)


@click.command("quiz")
@click.argument("lesson")
@click.option("--answers", "answers_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Answer from this YAML file (question-id: answer) instead of interactively.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to report answers read with --answers.")
@click.option("--submission", type=click.Path(path_type=Path, file_okay=False),
              help="Submission root holding <lesson>/answers.yaml [default: <course>/exercises].")
@course_option
@debug_option
def quiz_command(lesson: str, answers_file: Path | None, output_format: str,
                 submission: Path | None, course_dir: Path | None, debug: bool) -> None:
    """Take the quiz of LESSON (for example 1.2), or score answers given in a file."""

    def action() -> int:
        course = load_course_from(course_dir)
        quiz_file = course.lesson(lesson).quiz
        if quiz_file is None:
            raise UsageError(f"lesson {lesson} has no quiz")
        return run_quiz(
            lesson=lesson, quiz_file=quiz_file, course_root=course.root,
            submission_root=submission if submission is not None else course.root / "exercises",
            answers_file=answers_file, output_format=output_format,
            interactive=sys.stdin.isatty(), console=_terminal_console(),
        )

    sys.exit(guarded(debug, action))
