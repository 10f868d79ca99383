"""Answering a quiz: the answers file kept in the submission, and the interactive session.

A student's answers live in ``<submission root>/<lesson>/answers.yaml`` (one
``question-id: answer`` line per question), so ``check``, reports and batch grading read the
same answers the student gave. The file is rewritten atomically after every answered question;
a bad answers file is refused before anything is written, so nothing saved earlier is lost.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from loopgrader._fs import atomic_write_text
from loopgrader.errors import SubmissionError
from loopgrader.quiz.format import dump_yaml, load_yaml
from loopgrader.quiz.model import Question, Quiz
from loopgrader.quiz.scoring import (
    AnswerError,
    Given,
    QuizResult,
    check_answers,
    grade_question,
    read_answer,
)

__all__ = [
    "ANSWERS_NAME",
    "Console",
    "SessionOutcome",
    "answer_from_file",
    "answers_path",
    "load_answers",
    "load_saved_answers",
    "render_result",
    "run_session",
    "save_answers",
]

ANSWERS_NAME = "answers.yaml"
_WIDTH = 92
_INDENT = " " * 14
_EXAMPLE = "one `question-id: answer` line per question, for example `grad-w: 12.0`"
_HINTS = {
    "single": "Answer with one letter.",
    "multiple": "Answer with every letter that applies, for example: a, c",
    "numeric": "Answer with a number.",
    "text": "Answer in a word or a few words.",
    "output": "Type what it prints (a line break can be typed as a space).",
}


@dataclass(frozen=True)
class Console:
    """Where a session reads a line (``ask`` shows a prompt) and writes text (``say``)."""

    ask: Callable[[str], str]
    say: Callable[[str], None]


@dataclass(frozen=True)
class SessionOutcome:
    """The answers after a session (as saved) and whether the student stopped it early."""

    answers: dict[str, object]
    interrupted: bool


def answers_path(submission_root: Path, lesson: str) -> Path:
    """Where a submission keeps its answers to the quiz of ``lesson``."""
    return submission_root / lesson / ANSWERS_NAME


def load_answers(path: Path) -> dict[str, object]:
    """Read an answers file: question ids to answers (:class:`SubmissionError` if unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SubmissionError(
            f"The answers file {path} does not exist. Check the path, or answer in a terminal "
            "with `loopgrader quiz LESSON`."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SubmissionError(
            f"The answers file {path} cannot be read ({exc}). Save it as UTF-8 text with "
            f"{_EXAMPLE}, and run the command again."
        ) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise SubmissionError(
            f"The answers file {path} is not valid YAML ({' '.join(str(exc).split())}). "
            f"It should hold {_EXAMPLE}; fix that line and run the command again."
        ) from None
    return _answers_mapping(data, path)


def _answers_mapping(data: object, path: Path) -> dict[str, object]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SubmissionError(
            f"The answers file {path} holds {type(data).__name__} data, not question ids with "
            f"answers. Write {_EXAMPLE}, and run the command again."
        )
    answers: dict[str, object] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise SubmissionError(
                f"The answers file {path} has a line starting with {key!r}, which is not a "
                f"question id. Write {_EXAMPLE}, and run the command again."
            )
        if not _plain_answer(value):
            raise SubmissionError(
                f"The answers file {path} gives question {key!r} a {type(value).__name__}, "
                "which is not an answer. Write a letter, a list of letters such as [a, c], a "
                "number or some text, and run the command again."
            )
        answers[key] = value
    return answers


def _plain_answer(value: object) -> bool:
    if value is None or isinstance(value, str | int | float):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load_saved_answers(path: Path) -> dict[str, object]:
    """The answers saved in a submission so far (none if the file does not exist yet)."""
    return load_answers(path) if path.exists() else {}


def render_answers(quiz: Quiz, answers: Mapping[str, object]) -> str:
    """The text of an answers file: a short header, then answers in the quiz's order."""
    ordered = {q.id: answers[q.id] for q in quiz.questions if answers.get(q.id) is not None}
    header = (
        f"# Answers to quiz {quiz.lesson}: {quiz.title}\n"
        "# Saved by `loopgrader quiz`; you may also edit this file, one `question-id: answer`\n"
        "# line per question, and score it with `loopgrader quiz "
        f"{quiz.lesson} --answers {ANSWERS_NAME}`.\n"
    )
    return header + (dump_yaml(ordered) if ordered else "{}\n")


def save_answers(path: Path, quiz: Quiz, answers: Mapping[str, object]) -> None:
    """Write the answers file atomically (a reader sees the old file or the new one)."""
    atomic_write_text(path, render_answers(quiz, answers))


def answer_from_file(quiz: Quiz, *, answers_file: Path, saved_file: Path) -> dict[str, object]:
    """Take the answers in ``answers_file`` into the submission's saved answers and save them.

    Answers given in the file replace saved ones; saved answers to other questions stay. If
    anything is wrong, nothing is written and the error says so.
    """
    note = f"Nothing was saved: the answers in {saved_file} are unchanged."
    try:
        incoming = load_answers(answers_file)
    except SubmissionError as exc:
        raise SubmissionError(f"{exc.message} {note}") from None
    given = check_answers(quiz, incoming, source=answers_file, note=note)
    saved = load_saved_answers(saved_file)
    merged = {**saved, **{qid: g.stored for qid, g in given.items()}}
    check_answers(quiz, merged, source=saved_file, note=f"Fix or delete {saved_file}.")
    save_answers(saved_file, quiz, merged)
    return merged


def render_question(question: Question, number: int, total: int) -> str:
    """A question as shown in the terminal."""
    lines = [f"Question {number} of {total} ({_points(question.points)})", question.prompt]
    if question.kind == "output" and question.code:
        lines += ["", *(f"    {line}".rstrip() for line in question.code.splitlines()), ""]
    lines += [f"  {letter}) {text}" for letter, text in question.choices]
    hint = _HINTS[question.kind]
    if question.kind == "numeric" and question.decimals is not None:
        hint = f"Answer with a number to {question.decimals} decimal places."
    return "\n".join([*lines, hint])


def _points(points: float) -> str:
    return f"{points:g} point" + ("" if points == 1 else "s")


def run_session(
    quiz: Quiz, *, answers: Mapping[str, object], saved_file: Path, console: Console
) -> SessionOutcome:
    """Ask every question in turn, saving after each answer; Ctrl-C or end of input stops.

    ``answers`` are the answers saved so far (already checked); Enter keeps a saved answer.
    """
    current = dict(answers)
    total = len(quiz.questions)
    try:
        for number, question in enumerate(quiz.questions, start=1):
            console.say("")
            console.say(render_question(question, number, total))
            _answer_one(quiz, question, current, saved_file, console)
    except (KeyboardInterrupt, EOFError):
        count = sum(1 for value in current.values() if value is not None)
        console.say(
            f"\nStopped. {count} answer(s) saved in {saved_file}; run the quiz again to "
            "continue (press Enter to keep a saved answer)."
        )
        return SessionOutcome(current, interrupted=True)
    return SessionOutcome(current, interrupted=False)


def _answer_one(
    quiz: Quiz, question: Question, current: dict[str, object], saved_file: Path, console: Console
) -> None:
    saved = current.get(question.id)
    if saved is not None:
        console.say(
            f"Your saved answer: {read_answer(question, saved).display} (press Enter to keep it)"
        )
    given = _prompt(question, saved, console)
    if given is None:
        console.say("Skipped: no answer saved for this question.")
        return
    if given.stored != saved:
        save_answers(saved_file, quiz, {**current, question.id: given.stored})
        current[question.id] = given.stored
    result = grade_question(question, given)
    if result.correct:
        console.say(f"Correct: {_points(question.points)}.")
    else:
        shown = f" The answer is {result.expected}." if result.expected is not None else ""
        console.say(f"Not quite: 0 of {_points(question.points)}.{shown}")
    console.say(textwrap.fill(f"Why: {question.explanation}", width=_WIDTH))


def _prompt(question: Question, saved: object, console: Console) -> Given | None:
    while True:
        line = console.ask("> ").strip()
        if not line:
            return None if saved is None else read_answer(question, saved)
        try:
            return read_answer(question, line)
        except AnswerError as exc:
            console.say(f"This question {exc}. Try again, or press Enter to skip.")


def render_result(result: QuizResult, *, title: str, saved_file: Path) -> str:
    """A scored quiz as text: one line per question, explanations under wrong answers."""
    lines = [f"Quiz {result.lesson}: {title}"]
    width = max(len(q.id) for q in result.questions)
    for q in result.questions:
        status = {True: "correct", False: "wrong", None: "unanswered"}[q.correct]
        lines.append(f"  {status:<10}  {q.id:<{width}}  {q.score:g}/{q.max_score:g}")
        if q.correct is False:
            answer = f"; the answer is {q.expected}" if q.expected is not None else ""
            lines.append(f"{_INDENT}You answered {q.given}{answer}.")
            why = f"Why: {q.explanation}"
            lines.append(
                textwrap.fill(why, _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT)
            )
    lines.append(
        f"Score: {result.score:g} of {result.max_score:g} points "
        f"({result.answered} of {len(result.questions)} answered). "
        f"Answers saved in {saved_file}."
    )
    return "\n".join(lines)
