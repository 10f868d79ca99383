"""``loopgrader quiz``: the click command (CliRunner) and the plain function behind it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loopgrader.cli.quiz import quiz_command
from loopgrader.errors import SubmissionError, UsageError
from loopgrader.quiz.session import Console, load_answers
from loopgrader.quiz.take import quiz_path, run_quiz
from loopgrader.records.progress import load_progress

QUIZ = """\
lesson: "1.3"
title: Batches
questions:
  - id: updates
    kind: numeric
    points: 2
    decimals: 0
    prompt: 1000 samples, batch size 32. Updates per epoch?
    code: print(32)
    answer: 32
    explanation: 31 full batches and one of 8.
  - id: sgd
    kind: single
    points: 1
    prompt: Which batch size is SGD?
    choices:
      a: "1"
      b: N
    answer: a
    explanation: One sample per update.
  - id: name
    kind: text
    points: 1
    prompt: A subset of samples for one update is a...?
    answer: [mini-batch, minibatch]
    explanation: A mini-batch.
"""
ALL_RIGHT = "updates: 32\nsgd: a\nname: Mini-Batch\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A minimal course: a manifest and the quiz of lesson 1.3."""
    root = tmp_path / "course"
    (root / "quizzes").mkdir(parents=True)
    (root / "course.yaml").write_text(
        "title: Fixture course\nmodules: {1: Basics}\nlessons:\n"
        "  - {id: '1.1', title: One, quiz: quizzes/1.1.yaml}\n"
        "  - {id: '1.3', title: Three, quiz: quizzes/1.3.yaml}\n", encoding="utf-8")
    (root / "quizzes" / "1.3.yaml").write_text(QUIZ, encoding="utf-8")
    (root / "quizzes" / "1.1.yaml").write_text(QUIZ.replace('"1.3"', '"1.1"'), encoding="utf-8")
    return root


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(quiz_command, args, catch_exceptions=False)


def _answers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-answers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_answers_file_scores_saves_and_records(course: Path, tmp_path: Path) -> None:
    result = _invoke(
        ["1.3", "--course", str(course), "--answers", str(_answers(tmp_path, ALL_RIGHT))]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Quiz 1.3: Batches"
    assert "  correct     updates  2/2" in result.output
    assert "Score: 4 of 4 points (3 of 3 answered)." in result.output
    saved = course / "exercises" / "1.3" / "answers.yaml"
    assert load_answers(saved) == {"updates": 32, "sgd": "a", "name": "Mini-Batch"}
    [attempt] = load_progress(course).attempts
    assert (attempt.lesson, attempt.kind, attempt.status, attempt.score) == (
        "1.3",
        "quiz",
        "passed",
        4.0,
    )


def test_wrong_answers_exit_1_with_answer_and_explanation(course: Path, tmp_path: Path) -> None:
    answers = _answers(tmp_path, "updates: 31\nsgd: b\n")
    result = _invoke(["1.3", "--course", str(course), "--answers", str(answers)])
    assert result.exit_code == 1
    assert "You answered 31; the answer is 32." in result.output
    assert "Why: 31 full batches and one of 8." in result.output
    assert "  unanswered  name     0/1" in result.output
    assert load_progress(course).attempts[0].status == "attempted"


def test_json_reports_score_and_every_question(course: Path, tmp_path: Path) -> None:
    answers = _answers(tmp_path, "updates: 32\nsgd: b\n")
    result = _invoke(
        ["1.3", "--course", str(course), "--answers", str(answers), "--format", "json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["lesson"], report["score"], report["max_score"]) == ("1.3", 2.0, 4.0)
    by_id = {q["id"]: q for q in report["questions"]}
    assert by_id["updates"] == {
        "id": "updates",
        "prompt": "1000 samples, batch size 32. Updates per epoch?",
        "score": 2.0,
        "max_score": 2.0,
        "correct": True,
        "given": "32",
        "expected": "32",
        "explanation": "31 full batches and one of 8.",
    }
    assert (by_id["sgd"]["correct"], by_id["sgd"]["expected"]) == (False, "a: 1")
    assert (by_id["name"]["correct"], by_id["name"]["given"]) == (None, None)
    assert report["answers_file"] == str(course / "exercises" / "1.3" / "answers.yaml")


def test_submission_option_chooses_where_answers_are_saved(course: Path, tmp_path: Path) -> None:
    other = tmp_path / "student-42"
    answers = _answers(tmp_path, ALL_RIGHT)
    args = ["1.3", "--course", str(course), "--submission", str(other), "--answers", str(answers)]
    assert _invoke(args).exit_code == 0
    assert load_answers(other / "1.3" / "answers.yaml")["sgd"] == "a"
    assert not (course / "exercises").exists()


def test_without_terminal_or_file_it_explains_how_to_answer(course: Path) -> None:
    result = _invoke(["1.3", "--course", str(course)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: `loopgrader quiz 1.3` asks its questions one at a time")
    assert "(this quiz's ids: updates, sgd, name)" in result.output
    assert "`loopgrader quiz 1.3 --answers FILE`" in result.output
    assert not (course / "exercises").exists()


def test_json_needs_an_answers_file(course: Path) -> None:
    result = _invoke(["1.3", "--course", str(course), "--format", "json"])
    assert result.exit_code == 2
    assert (
        "Error: --format json reports on answers read from a file: add --answers FILE."
        in result.output
    )


def test_unknown_lesson_lists_the_quizzes(course: Path) -> None:
    result = _invoke(["9.9", "--course", str(course)])
    assert result.exit_code == 2
    assert "unknown lesson '9.9'; valid lessons: 1.1, 1.3" in result.output


def test_broken_quiz_is_a_course_error(course: Path) -> None:
    quiz_file = course / "quizzes" / "1.3.yaml"
    quiz_file.write_text(QUIZ.replace("answer: a", "answer: c"), encoding="utf-8")
    result = _invoke(["1.3", "--course", str(course)])
    assert result.exit_code == 3
    assert (
        f"{quiz_file}: sgd: expected answer to be one of the choice letters a, b, got 'c'"
        in result.output
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("updates: [32\n", "is not valid YAML"),
        ("updates: thirty-two\n", "question 'updates' needs a number"),
        ("bonus: 1\n", "answers questions that quiz 1.3 does not have ('bonus')"),
    ],
    ids=["malformed", "non-number", "unknown-id"],
)
def test_bad_answers_file_exits_2_and_keeps_saved_answers(
    course: Path, tmp_path: Path, content: str, problem: str
) -> None:
    first = _answers(tmp_path, ALL_RIGHT)
    assert _invoke(["1.3", "--course", str(course), "--answers", str(first)]).exit_code == 0
    saved = course / "exercises" / "1.3" / "answers.yaml"
    before = saved.read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    result = _invoke(["1.3", "--course", str(course), "--answers", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: The answers file {bad} ") and problem in result.output
    assert "Nothing was saved" in result.output
    assert saved.read_bytes() == before
    assert len(load_progress(course).attempts) == 1


def test_course_found_from_env_and_from_a_subfolder(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = str(_answers(tmp_path, ALL_RIGHT))
    monkeypatch.setenv("LOOPGRADER_COURSE", str(course))
    assert _invoke(["1.3", "--answers", answers]).exit_code == 0
    monkeypatch.delenv("LOOPGRADER_COURSE")
    inside = course / "exercises" / "1.3"
    monkeypatch.chdir(inside)
    assert _invoke(["1.1", "--answers", answers]).exit_code == 0
    assert (course / "exercises" / "1.1" / "answers.yaml").is_file()


def test_no_course_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOOPGRADER_COURSE", raising=False)
    monkeypatch.chdir(tmp_path)
    result = _invoke(["1.3"])
    assert result.exit_code == 2
    assert "no course.yaml found" in result.output and "--course DIR" in result.output


def test_quiz_path_rejects_names_that_are_not_lesson_ids(course: Path) -> None:
    assert quiz_path(course, "1.3") == course / "quizzes" / "1.3.yaml"
    with pytest.raises(UsageError, match=re.escape("no quiz for lesson '../1.3'")):
        quiz_path(course, "../1.3")


def test_run_quiz_interactive_records_and_returns_130_when_stopped(course: Path) -> None:
    replies = iter(["32"])
    said: list[str] = []

    def ask(prompt: str) -> str:
        try:
            return next(replies)
        except StopIteration:
            raise KeyboardInterrupt from None

    code = run_quiz(
        lesson="1.3",
        course_root=course,
        submission_root=course / "exercises",
        answers_file=None,
        output_format="text",
        interactive=True,
        console=Console(ask=ask, say=said.append),
        clock=iter([10.0, 14.5]).__next__,
    )
    assert code == 130
    assert said[0] == "Quiz 1.3: Batches (3 questions)"
    saved = course / "exercises" / "1.3" / "answers.yaml"
    assert said[-1] == f"Score: 2 of 4 points (1 of 3 answered). Your answers are saved in {saved}."
    [attempt] = load_progress(course).attempts
    assert (attempt.status, attempt.score, attempt.duration_s) == ("attempted", 2.0, 4.5)
    assert load_answers(saved) == {"updates": 32}


def test_broken_saved_answers_stop_the_session_before_any_question(course: Path) -> None:
    saved = course / "exercises" / "1.3" / "answers.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text("retired-question: a\n", encoding="utf-8")
    said: list[str] = []
    with pytest.raises(SubmissionError, match=re.escape(f"Fix or delete {saved}")):
        run_quiz(
            lesson="1.3",
            course_root=course,
            submission_root=course / "exercises",
            answers_file=None,
            output_format="text",
            interactive=True,
            console=Console(ask=input, say=said.append),
        )
    assert said == [] and saved.read_text(encoding="utf-8") == "retired-question: a\n"
