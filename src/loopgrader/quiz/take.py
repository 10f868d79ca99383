"""Taking a quiz: interactively in a terminal or from an answers file, then scoring, saving the
answers and recording the attempt.

:func:`run_quiz` is a plain function with keyword-only arguments that returns the exit code
(0 full marks, 1 some points missing, 130 stopped with Ctrl-C); it talks to the person only
through a :class:`~loopgrader.quiz.session.Console`, so ``loopgrader quiz`` stays a thin click
command and tests need no terminal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from loopgrader.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from loopgrader.quiz.loader import Quiz, load_quiz
from loopgrader.quiz.scoring import QuizResult, check_answers, quiz_result_to_attempt, score_quiz
from loopgrader.quiz.session import (
    Console,
    answer_from_file,
    answers_path,
    load_saved_answers,
    render_result,
    run_session,
)
from loopgrader.records.progress import record_attempt

__all__ = ["quiz_path", "run_quiz"]

_LESSON = re.compile(r"\d+\.\d+")


def quiz_path(course_root: Path, lesson: str) -> Path:
    """The quiz file of ``lesson``; :class:`UsageError` naming the quizzes there if none."""
    path = course_root / "quizzes" / f"{lesson}.yaml"
    if _LESSON.fullmatch(lesson) and path.is_file():
        return path
    found = sorted(
        (p.stem for p in (course_root / "quizzes").glob("*.yaml") if _LESSON.fullmatch(p.stem)),
        key=lambda stem: tuple(int(part) for part in stem.split(".")),
    )
    listed = ", ".join(found) if found else "none"
    raise UsageError(
        f"There is no quiz for lesson {lesson!r} in {course_root}. Lessons with a quiz: {listed}."
    )


def run_quiz(
    *,
    lesson: str,
    course_root: Path,
    submission_root: Path,
    answers_file: Path | None,
    output_format: str,
    interactive: bool,
    console: Console,
    clock: Callable[[], float] = time.monotonic,
    quiz_file: Path | None = None,
) -> int:
    """Take or score the quiz of ``lesson``, save the answers and record the attempt."""
    quiz = load_quiz(quiz_file if quiz_file is not None else quiz_path(course_root, lesson))
    saved_file = answers_path(submission_root, lesson)
    if answers_file is None and output_format == "json":
        raise UsageError("--format json reports on answers read from a file: add --answers FILE.")
    if answers_file is None and not interactive:
        raise UsageError(_no_terminal_message(quiz))
    start = clock()
    if answers_file is not None:
        answers = answer_from_file(quiz, answers_file=answers_file, saved_file=saved_file)
        result, interrupted = score_quiz(quiz, answers, source=saved_file), False
        console.say(_report(result, quiz, saved_file, output_format))
    else:
        result, interrupted = _take_quiz(quiz, saved_file, console)
    record_attempt(course_root, quiz_result_to_attempt(lesson, result, clock() - start))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.score >= result.max_score else EXIT_FAILED


def _take_quiz(quiz: Quiz, saved_file: Path, console: Console) -> tuple[QuizResult, bool]:
    """The interactive session, from the saved answers on; the result and whether stopped."""
    saved = load_saved_answers(saved_file)
    check_answers(quiz, saved, source=saved_file, note=f"Fix or delete {saved_file}.")
    console.say(f"Quiz {quiz.lesson}: {quiz.title} ({len(quiz.questions)} questions)")
    outcome = run_session(quiz, answers=saved, saved_file=saved_file, console=console)
    result = score_quiz(quiz, outcome.answers, source=saved_file)
    where = f" Your answers are saved in {saved_file}." if result.answered else ""
    console.say(
        f"Score: {result.score:g} of {result.max_score:g} points "
        f"({result.answered} of {len(quiz.questions)} answered).{where}"
    )
    return result, outcome.interrupted


def _report(result: QuizResult, quiz: Quiz, saved_file: Path, output_format: str) -> str:
    if output_format == "json":
        return json.dumps({**result.to_json(), "answers_file": str(saved_file)}, indent=2)
    return render_result(result, title=quiz.title, saved_file=saved_file)


def _no_terminal_message(quiz: Quiz) -> str:
    ids = ", ".join(q.id for q in quiz.questions)
    return (
        f"`loopgrader quiz {quiz.lesson}` asks its questions one at a time in a terminal, and "
        "there is none here. To answer from a file instead, write a YAML file with one "
        f"`question-id: answer` line per question (this quiz's ids: {ids}) and run "
        f"`loopgrader quiz {quiz.lesson} --answers FILE`. Choices are letters (`pick-one: b`, "
        "or `pick-all: [a, c]` when several apply), numbers are written plainly "
        "(`learning-rate: 0.05`) and text as is."
    )
