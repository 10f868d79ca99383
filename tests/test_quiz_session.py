"""Answers files and the interactive session, including a real pseudo-terminal and Ctrl-C."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loopgrader.errors import SubmissionError
from loopgrader.quiz.hashing import hash_quiz_text
from loopgrader.quiz.loader import Quiz, parse_quiz
from loopgrader.quiz.session import (
    Console,
    answer_from_file,
    answers_path,
    load_answers,
    load_saved_answers,
    render_answers,
    render_question,
    run_session,
    save_answers,
)

QUIZ = """\
lesson: "2.5"
title: Pipelines
questions:
  - id: batches
    kind: numeric
    points: 1
    decimals: 0
    prompt: How many batches of 64 in 1050 samples?
    code: print(17)
    answer: 17
    explanation: Sixteen full batches and one of 26.
  - id: no-grad
    kind: single
    points: 1
    prompt: What does torch.no_grad() do?
    choices:
      a: It stops autograd from recording
      b: It switches dropout off
    answer: a
    explanation: Dropout is switched by eval().
  - id: method
    kind: text
    points: 1
    prompt: Which method moves a tensor to a device?
    answer: ["to", ".to(device)"]
    explanation: x.to(device) returns a moved copy.
"""

STOP = "<ctrl-c>"
END = "<ctrl-d>"


def _quiz(text: str = QUIZ) -> Quiz:
    quiz, problems = parse_quiz(text, source="2.5.yaml", lesson="2.5")
    assert problems == [] and quiz is not None
    return quiz


class _Script:
    """A console that answers from a list and remembers what the answers file held then."""

    def __init__(self, replies: list[str], watched: Path) -> None:
        self.replies: Iterator[str] = iter(replies)
        self.watched = watched
        self.said: list[str] = []
        self.saved_when_asked: list[dict[str, object]] = []

    def ask(self, prompt: str) -> str:
        assert prompt == "> "
        self.saved_when_asked.append(load_saved_answers(self.watched))
        reply = next(self.replies)
        if reply == STOP:
            raise KeyboardInterrupt
        if reply == END:
            raise EOFError
        return reply

    @property
    def console(self) -> Console:
        return Console(ask=self.ask, say=self.said.append)

    @property
    def text(self) -> str:
        return "\n".join(self.said)


def test_load_answers_reads_letters_numbers_text_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("a: b\nb: [a, c]\nc: 0.25\nd: yes\ne:\n", encoding="utf-8")
    assert load_answers(path) == {"a": "b", "b": ["a", "c"], "c": 0.25, "d": "yes", "e": None}
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_answers(path) == {}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("batches: [17\n", "is not valid YAML"),
        ("- 17\n- a\n", "holds list data, not question ids with answers"),
        ("1: a\n", "has a line starting with 1, which is not a question id"),
        ("batches: {value: 17}\n", "gives question 'batches' a dict, which is not an answer"),
        ("batches: 17\nbatches: 16\n", "the key 'batches' appears twice"),
    ],
    ids=["bad-yaml", "list", "number-key", "nested", "repeated"],
)
def test_malformed_answers_files_get_one_paragraph(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SubmissionError) as raised:
        load_answers(path)
    message = str(raised.value)
    assert message.startswith(f"The answers file {path} ") and problem in message
    assert "run the command again" in message and "\n" not in message


def test_missing_answers_file_says_how_to_answer(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match=r"does not exist\. Check the path, or answer in a"):
        load_answers(tmp_path / "nope.yaml")
    assert load_saved_answers(tmp_path / "nope.yaml") == {}


def test_saved_answers_round_trip_in_quiz_order(tmp_path: Path) -> None:
    quiz = _quiz()
    path = answers_path(tmp_path, "2.5")
    assert path == tmp_path / "2.5" / "answers.yaml"
    save_answers(path, quiz, {"method": "yes", "batches": 17.0, "no-grad": None})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Answers to quiz 2.5: Pipelines\n")
    assert text.index("batches:") < text.index("method:") and "no-grad" not in text
    assert load_answers(path) == {"batches": 17.0, "method": "yes"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["answers.yaml"]
    assert render_answers(quiz, {}).endswith("{}\n")


def test_answer_from_file_merges_into_the_saved_answers(tmp_path: Path) -> None:
    quiz, saved = _quiz(), tmp_path / "sub" / "2.5" / "answers.yaml"
    save_answers(saved, quiz, {"batches": 16, "method": "to"})
    given = tmp_path / "mine.yaml"
    given.write_text("batches: '17'\nno-grad: A\n", encoding="utf-8")
    merged = answer_from_file(quiz, answers_file=given, saved_file=saved)
    assert merged == {"batches": 17.0, "no-grad": "a", "method": "to"}
    assert load_answers(saved) == merged


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("batches: seventeen\n", "question 'batches' needs a number"),
        ("bonus: 3\n", "answers questions that quiz 2.5 does not have ('bonus')"),
        ("batches: [17\n", "is not valid YAML"),
    ],
    ids=["non-number", "unknown-id", "malformed"],
)
def test_a_bad_answers_file_changes_nothing(tmp_path: Path, content: str, problem: str) -> None:
    quiz, saved = _quiz(), tmp_path / "2.5" / "answers.yaml"
    save_answers(saved, quiz, {"batches": 16, "method": "to"})
    before = saved.read_bytes()
    given = tmp_path / "mine.yaml"
    given.write_text(content, encoding="utf-8")
    with pytest.raises(SubmissionError) as raised:
        answer_from_file(quiz, answers_file=given, saved_file=saved)
    message = str(raised.value)
    assert str(given) in message and problem in message
    assert message.endswith(f"Nothing was saved: the answers in {saved} are unchanged.")
    assert saved.read_bytes() == before


def test_render_question_shows_code_choices_and_how_to_answer() -> None:
    quiz = _quiz()
    shown = render_question(quiz.questions[1], 2, 3)
    assert shown.splitlines() == [
        "Question 2 of 3 (1 point)",
        "What does torch.no_grad() do?",
        "  a) It stops autograd from recording",
        "  b) It switches dropout off",
        "Answer with one letter.",
    ]
    assert render_question(quiz.questions[0], 1, 3).endswith("to 0 decimal places.")


def test_session_saves_after_every_answer_and_explains(tmp_path: Path) -> None:
    path = tmp_path / "2.5" / "answers.yaml"
    script = _Script(["17", "b", " .TO(device) "], path)
    outcome = run_session(_quiz(), answers={}, saved_file=path, console=script.console)
    assert not outcome.interrupted
    assert outcome.answers == {"batches": 17.0, "no-grad": "b", "method": ".TO(device)"}
    assert script.saved_when_asked == [{}, {"batches": 17.0}, {"batches": 17.0, "no-grad": "b"}]
    assert load_answers(path) == outcome.answers
    assert "Correct: 1 point." in script.said
    assert (
        "Not quite: 0 of 1 point. The answer is a: It stops autograd from recording." in script.said
    )
    assert "Why: Dropout is switched by eval()." in script.said


def test_session_reprompts_on_bad_input_and_skips_on_enter(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    script = _Script(["many", "17", "c", "", "to"], path)
    outcome = run_session(_quiz(), answers={}, saved_file=path, console=script.console)
    assert outcome.answers == {"batches": 17.0, "method": "to"}
    assert (
        "This question needs a number, written like 12 or -0.25; got 'many'. Try again, or "
        "press Enter to skip."
    ) in script.said
    assert (
        "This question needs one letter, a or b; got 'c'. Try again, or press Enter to skip."
        in script.said
    )
    assert "Skipped: no answer saved for this question." in script.said


def test_enter_keeps_a_saved_answer(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    save_answers(path, _quiz(), {"batches": 16})
    script = _Script(["", "a", "to"], path)
    outcome = run_session(_quiz(), answers={"batches": 16}, saved_file=path, console=script.console)
    assert outcome.answers == {"batches": 16, "no-grad": "a", "method": "to"}
    assert "Your saved answer: 16 (press Enter to keep it)" in script.said
    assert "Not quite: 0 of 1 point. The answer is 17." in script.said


@pytest.mark.parametrize("stop", [STOP, END], ids=["ctrl-c", "end-of-input"])
def test_stopping_keeps_what_was_answered(tmp_path: Path, stop: str) -> None:
    path = tmp_path / "answers.yaml"
    script = _Script(["17", stop], path)
    outcome = run_session(_quiz(), answers={}, saved_file=path, console=script.console)
    assert outcome.interrupted and outcome.answers == {"batches": 17.0}
    assert load_answers(path) == {"batches": 17.0}
    assert f"Stopped. 1 answer(s) saved in {path}" in script.text


def test_hashed_quiz_session_gives_no_answer_away(tmp_path: Path) -> None:
    hashed, problems = parse_quiz(hash_quiz_text(QUIZ, secret=b"s"), source="copy")
    assert hashed is not None and problems == []
    script = _Script(["16", "a", "to"], tmp_path / "answers.yaml")
    run_session(hashed, answers={}, saved_file=tmp_path / "answers.yaml", console=script.console)
    assert "Not quite: 0 of 1 point." in script.said
    assert script.said.count("Correct: 1 point.") == 2
    assert "17" not in script.text.replace("How many batches of 64 in 1050", "")


# --- a real terminal ---------------------------------------------------------------------------

CHILD = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # make the pty this session's controlling terminal
from loopgrader.cli.quiz import quiz_command
quiz_command(sys.argv[1:], prog_name="loopgrader quiz")
"""


class _Terminal:
    """A child process on a pseudo-terminal, driven like a person at a keyboard."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = os.openpty()
        env = {k: v for k, v in os.environ.items() if k != "LOOPGRADER_COURSE"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env=env,
        )
        os.close(slave)
        self.output = ""
        self.seen = 0

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Wait until ``text`` appears after everything matched so far."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self.seen)) < 0:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {text!r}; got:\n{self.output}"
            if select.select([self.master], [], [], remaining)[0]:
                self._read()
        self.seen = found + len(text)

    def _read(self) -> bool:
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the child closed the terminal
            return False
        self.output += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return bool(chunk)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def interrupt(self) -> None:
        """Press Ctrl-C, again if need be, until the child exits.

        CPython only notices a SIGINT that lands between printing input()'s prompt and the
        blocking read when the next one arrives, so a person (or this test) presses again.
        """
        for _ in range(3):
            time.sleep(0.2)
            self.send("\x03")
            try:
                self.process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue

    def finish(self, timeout: float = 30.0) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the quiz did not exit; its terminal showed:\n{self.output}")
        while select.select([self.master], [], [], 0.2)[0] and self._read():
            pass
        os.close(self.master)
        return code


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[list[str]], _Terminal]]:
    """Start the quiz command on a pseudo-terminal; every child is gone after the test."""
    started: list[_Terminal] = []

    def start(args: list[str]) -> _Terminal:
        started.append(_Terminal(args))
        return started[-1]

    yield start
    for child in started:
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def _course(root: Path) -> Path:
    (root / "quizzes").mkdir(parents=True)
    (root / "course.yaml").write_text(
        "title: Fixture course\nmodules: {2: Two}\nlessons:\n"
        "  - {id: '2.5', title: Five, quiz: quizzes/2.5.yaml}\n", encoding="utf-8")
    (root / "quizzes" / "2.5.yaml").write_text(QUIZ, encoding="utf-8")
    return root


def test_terminal_session_asks_scores_and_saves(
    tmp_path: Path, terminal: Callable[[list[str]], _Terminal]
) -> None:
    course = _course(tmp_path / "course")
    term = terminal(["2.5", "--course", str(course)])
    term.expect("Question 1 of 3 (1 point)")
    term.expect("> ")
    term.send("17\n")
    term.expect("Correct: 1 point.")
    term.expect("Question 2 of 3")
    term.send("a\n")
    term.expect("Question 3 of 3")
    term.send("to\n")
    assert term.finish() == 0
    assert "Score: 3 of 3 points (3 of 3 answered)." in term.output
    saved = course / "exercises" / "2.5" / "answers.yaml"
    assert load_answers(saved) == {"batches": 17, "no-grad": "a", "method": "to"}


def test_ctrl_c_in_a_terminal_keeps_the_answers_given(
    tmp_path: Path, terminal: Callable[[list[str]], _Terminal]
) -> None:
    course = _course(tmp_path / "course")
    term = terminal(["2.5", "--course", str(course)])
    term.expect("Question 1 of 3")
    term.expect("> ")
    term.send("17\n")
    term.expect("Question 2 of 3")
    term.expect("> ")
    term.interrupt()
    assert term.finish() == 130
    assert term.output.count("Stopped. 1 answer(s) saved in") == 1
    assert "Traceback" not in term.output
    saved = course / "exercises" / "2.5" / "answers.yaml"
    assert load_answers(saved) == {"batches": 17}
    assert len(list((course / ".loopgrader" / "attempts").glob("*.json"))) == 1
