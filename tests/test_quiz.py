"""Quiz files: parsing, validation messages, answer normal forms, scoring and hashed copies."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from loopgrader.errors import CourseError, SubmissionError
from loopgrader.quiz.format import (
    answer_digest,
    format_number,
    load_yaml,
    normalize_letters,
    normalize_output,
    normalize_text,
)
from loopgrader.quiz.hashing import hash_quiz_file, hash_quiz_text, question_salt
from loopgrader.quiz.loader import Quiz, load_quiz, parse_quiz, validate_quiz_file
from loopgrader.quiz.scoring import (
    AnswerError,
    check_answers,
    quiz_result_to_attempt,
    read_answer,
    score_quiz,
)

QUIZ = """\
lesson: "1.2"
title: Sample quiz
questions:
  - id: pick-one
    kind: single
    points: 1
    prompt: Which call computes gradients?
    choices:
      a: model(x)
      b: loss.backward()
      c: optimizer.step()
    answer: b
    explanation: backward() fills .grad.
  - id: pick-all
    kind: multiple
    points: 2
    prompt: Which are optimizers?
    choices:
      a: SGD
      b: Adam
      c: ReLU
    answer: [b, a]
    explanation: ReLU is an activation.
  - id: mse
    kind: numeric
    points: 1
    decimals: 3
    prompt: MSE of [1, 2, 4] against [1.5, 2, 3]?
    code: print(1.25 / 3)
    answer: 0.41667
    explanation: 1.25 / 3.
  - id: term
    kind: text
    points: 1
    prompt: One pass over the data is called?
    answer: ["epoch", "an epoch"]
    explanation: An epoch.
  - id: printed
    kind: output
    points: 2
    prompt: What does this print?
    code: |
      import torch
      print(torch.zeros(2, 3).shape)
    answer: "torch.Size([2, 3])"
    explanation: Two rows, three columns.
"""

RIGHT: dict[str, object] = {
    "pick-one": "b",
    "pick-all": ["a", "b"],
    "mse": 0.417,
    "term": "Epoch",
    "printed": "torch.Size([2,3])",
}
WRONG: dict[str, object] = {
    "pick-one": "a",
    "pick-all": "a",
    "mse": 0.42,
    "term": "batch",
    "printed": "torch.Size([3, 2])",
}


def _parse(text: str = QUIZ) -> Quiz:
    quiz, problems = parse_quiz(text, source="quizzes/1.2.yaml", lesson="1.2")
    assert problems == []
    assert quiz is not None
    return quiz


def _problems(text: str) -> list[str]:
    return parse_quiz(text, source="quizzes/1.2.yaml", lesson="1.2")[1]


def test_a_valid_quiz_parses_with_every_kind() -> None:
    quiz = _parse()
    assert [q.kind for q in quiz.questions] == ["single", "multiple", "numeric", "text", "output"]
    assert quiz.lesson == "1.2" and quiz.title == "Sample quiz"
    assert quiz.max_score == 7.0
    one, many, number, text, output = quiz.questions
    assert one.letters == ("a", "b", "c") and one.expected == "b: loss.backward()"
    assert many.keys == ("ab",) and many.expected == "a, b"
    assert number.keys == ("0.417",) and number.decimals == 3 and number.code == "print(1.25 / 3)"
    assert text.keys == ("epoch", "an epoch") and text.expected == "epoch"
    assert output.keys == ("torch.size([2,3])",) and output.expected == "torch.Size([2, 3])"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    answer: b\n",
            "    anwser: b\n",
            "quizzes/1.2.yaml: pick-one: expected only the keys",
        ),
        (
            "    answer: b\n",
            "    anwser: b\n",
            "quizzes/1.2.yaml: pick-one: expected an answer (or answer_hash in a hashed copy), "
            "got nothing",
        ),
        (
            "    answer: b\n",
            "    answer: e\n",
            "quizzes/1.2.yaml: pick-one: expected answer to be one of the choice letters a, b, c, "
            "got 'e'",
        ),
        (
            "    answer: [b, a]\n",
            "    answer: [[b], a]\n",
            "quizzes/1.2.yaml: pick-all: expected answer to be a list of distinct letters out of "
            "a, b, c, got [['b'], 'a']",
        ),
        (
            "    answer: [b, a]\n",
            "    answer: [b, d]\n",
            "quizzes/1.2.yaml: pick-all: expected answer to be a list of distinct letters out of "
            "a, b, c, got ['b', 'd']",
        ),
        (
            "  - id: mse\n",
            "  - id: pick-one\n",
            "quizzes/1.2.yaml: pick-one: expected each question id once, got it a second time",
        ),
        (
            "    decimals: 3\n",
            "",
            "quizzes/1.2.yaml: mse: expected decimals to be a whole number from 0 to 10, "
            "got nothing",
        ),
        (
            "    answer: 0.41667\n",
            "    answer: about half\n",
            "quizzes/1.2.yaml: mse: expected answer to be a number, got 'about half'",
        ),
        (
            "    kind: output\n",
            "    kind: essay\n",
            "quizzes/1.2.yaml: printed: expected kind to be one of single, multiple, numeric, "
            "text, output, got 'essay'",
        ),
        (
            "    points: 2\n    prompt: What does",
            "    points: 0\n    prompt: What does",
            "quizzes/1.2.yaml: printed: expected points to be a positive number, got 0",
        ),
        (
            'lesson: "1.2"\n',
            "lesson: 1.2\n",
            'quizzes/1.2.yaml: lesson: expected a quoted lesson id such as "1.2", got 1.2',
        ),
        (
            'lesson: "1.2"\n',
            'lesson: "2.1"\n',
            "quizzes/1.2.yaml: lesson: expected '1.2' (the file's name), got '2.1'",
        ),
        (
            "title: Sample quiz\n",
            "title: Sample quiz\nauthor: me\n",
            "quizzes/1.2.yaml: top level: expected only the keys lesson, questions, title, "
            "got 'author'",
        ),
        (
            "    explanation: An epoch.\n",
            "",
            "quizzes/1.2.yaml: term: expected explanation to be non-empty text, got nothing",
        ),
        (
            "      c: ReLU\n",
            "      C: ReLU\n",
            "quizzes/1.2.yaml: pick-all: expected choice letters a to z, got 'C'",
        ),
        (
            "  - id: term\n",
            "  - id: Term Two\n",
            "quizzes/1.2.yaml: question 4: expected id made of a-z, 0-9, '-' and '_'",
        ),
    ],
    ids=[
        "unknown-key",
        "missing-answer",
        "bad-letter",
        "nested-letters",
        "bad-letters",
        "duplicate-id",
        "no-decimals",
        "non-number",
        "unknown-kind",
        "zero-points",
        "unquoted-lesson",
        "lesson-mismatch",
        "top-level-key",
        "no-explanation",
        "capital-letter",
        "bad-id",
    ],
)
def test_each_problem_names_file_question_expected_and_got(
    old: str, new: str, message: str
) -> None:
    assert old in QUIZ
    problems = _problems(QUIZ.replace(old, new, 1))
    assert any(p.startswith(message) for p in problems), problems


def test_output_question_without_code_is_reported() -> None:
    text = QUIZ.replace(
        "    code: |\n      import torch\n      print(torch.zeros(2, 3).shape)\n", ""
    )
    assert _problems(text) == [
        "quizzes/1.2.yaml: printed: expected code (the code whose printed output is asked), "
        "got nothing"
    ]


def test_every_problem_is_reported_at_once() -> None:
    broken = QUIZ.replace("    answer: b\n", "    answer: z\n").replace("kind: text", "kind: prose")
    problems = _problems(broken)
    assert len(problems) == 2
    assert {p.split(": ")[1] for p in problems} == {"pick-one", "term"}


def test_yaml_errors_and_repeated_keys_are_problems() -> None:
    assert _problems("questions: [")[0].startswith(
        "quizzes/1.2.yaml: top level: expected valid YAML"
    )
    repeated = QUIZ.replace("    answer: b\n", "    answer: b\n    answer: c\n")
    [problem] = _problems(repeated)
    assert "expected valid YAML" in problem and "the key 'answer' appears twice" in problem


def test_load_quiz_raises_one_course_error_listing_the_problems(tmp_path: Path) -> None:
    path = tmp_path / "1.2.yaml"
    path.write_text(QUIZ.replace("    answer: b\n", "    answer: e\n"), encoding="utf-8")
    with pytest.raises(CourseError) as raised:
        load_quiz(path)
    assert raised.value.exit_code == 3
    assert f"{path}: pick-one: expected answer to be one of the choice letters" in str(raised.value)
    assert validate_quiz_file(path) == str(raised.value).splitlines()[1:]


def test_validate_quiz_file_reports_unreadable_files(tmp_path: Path) -> None:
    [problem] = validate_quiz_file(tmp_path / "9.9.yaml")
    assert problem.startswith(f"{tmp_path / '9.9.yaml'}: top level: expected a readable UTF-8 file")


def test_yes_and_true_stay_text_in_quiz_files() -> None:
    assert load_yaml("a: yes\nb: true\nc: 1.5\n") == {"a": "yes", "b": "true", "c": 1.5}


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("  Model.Eval ( )  ", "model.eval()"),
        ("`zero_grad`", "zero_grad"),
        ("learning\n  rate", "learning rate"),
        ('"Chain rule"', "chain rule"),
    ],
)
def test_text_is_case_space_and_quote_insensitive(given: str, normal: str) -> None:
    assert normalize_text(given) == normal


def test_output_keeps_quotes_and_word_spacing() -> None:
    assert normalize_output("['0.weight',  '0.bias']") == "['0.weight','0.bias']"
    assert normalize_output("True False") != normalize_output("TrueFalse")


def test_numbers_are_compared_at_the_stated_decimals() -> None:
    assert format_number(0.41667, 3) == "0.417"
    assert format_number(-0.0001, 2) == "0.00"
    assert format_number(12, 0) == "12"
    assert normalize_letters(["c", " A", "a"]) == "ac"


@pytest.mark.parametrize(
    ("qid", "given", "normal"),
    [
        ("pick-one", " B ", "b"),
        ("pick-one", "(b)", "b"),
        ("pick-one", "b)", "b"),
        ("pick-all", "b, a", "ab"),
        ("pick-all", "ba", "ab"),
        ("pick-all", ["B", "a"], "ab"),
        ("pick-all", "a b", "ab"),
        ("mse", "0.41666", "0.417"),
        ("mse", 1, "1.000"),
        ("mse", "4.2e-1", "0.420"),
        ("term", "  An   EPOCH ", "an epoch"),
        ("printed", "torch.Size([2,3])", "torch.size([2,3])"),
    ],
)
def test_read_answer_accepts_the_usual_spellings(qid: str, given: object, normal: str) -> None:
    question = _parse().question(qid)
    assert question is not None
    assert read_answer(question, given).normal == normal


@pytest.mark.parametrize(
    ("qid", "given", "reason"),
    [
        ("pick-one", "d", "needs one letter, a, b or c; got 'd'"),
        ("pick-one", ["a"], "needs one letter"),
        ("pick-all", "a, z", "needs one or more letters out of a, b, c"),
        ("mse", "twelve", "needs a number, written like 12 or -0.25; got 'twelve'"),
        ("mse", "nan", "needs a number"),
        ("mse", "1_000", "needs a number"),
        ("term", ["epoch"], "needs a short text answer"),
        ("term", "  ", "got an empty one"),
    ],
)
def test_read_answer_says_what_is_wrong(qid: str, given: object, reason: str) -> None:
    question = _parse().question(qid)
    assert question is not None
    with pytest.raises(AnswerError, match=re.escape(reason)):
        read_answer(question, given)


def test_score_quiz_right_wrong_and_unanswered() -> None:
    quiz = _parse()
    assert score_quiz(quiz, RIGHT).score == 7.0
    wrong = score_quiz(quiz, WRONG)
    assert wrong.score == 0.0 and all(q.correct is False for q in wrong.questions)
    partial = score_quiz(quiz, {"pick-one": "b", "printed": None})
    assert (partial.score, partial.max_score, partial.answered) == (1.0, 7.0, 1)
    first, second = partial.questions[:2]
    assert (first.correct, first.given, first.expected) == (True, "b", "b: loss.backward()")
    assert (second.correct, second.given, second.score) == (None, None, 0.0)
    assert (
        second.explanation == "ReLU is an activation." and second.prompt == "Which are optimizers?"
    )


def test_unknown_ids_and_unreadable_answers_are_one_submission_error() -> None:
    with pytest.raises(SubmissionError) as raised:
        check_answers(
            _parse(),
            {"pick-one": "z", "mse": "lots", "bonus": "a"},
            source=Path("answers.yaml"),
            note="Nothing was saved.",
        )
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert message.startswith("The answers file answers.yaml cannot be scored:")
    assert "quiz 1.2 does not have ('bonus')" in message
    assert "its question ids are pick-one, pick-all, mse, term, printed" in message
    assert "question 'pick-one' needs one letter, a, b or c; got 'z'" in message
    assert "question 'mse' needs a number" in message
    assert message.endswith("Correct those lines and run the command again. Nothing was saved.")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("answers", "status"),
    [(RIGHT, "passed"), ({"pick-one": "b"}, "attempted"), ({}, "not started")],
    ids=["full-marks", "partial", "nothing"],
)
def test_quiz_result_to_attempt(answers: dict[str, object], status: str) -> None:
    result = score_quiz(_parse(), answers)
    attempt = quiz_result_to_attempt("1.2", result, 12.5)
    assert (attempt.lesson, attempt.kind, attempt.status) == ("1.2", "quiz", status)
    assert (attempt.score, attempt.max_score, attempt.duration_s) == (result.score, 7.0, 12.5)
    assert [t.name for t in attempt.tests] == ["pick-one", "pick-all", "mse", "term", "printed"]
    assert [t.status == "passed" for t in attempt.tests] == [
        q.correct is True for q in result.questions
    ]


SECRET = b"instructor secret"


def _hashed() -> Quiz:
    quiz, problems = parse_quiz(hash_quiz_text(QUIZ, secret=SECRET), source="copy", lesson="1.2")
    assert problems == []
    assert quiz is not None
    return quiz


def test_hashed_copy_hides_keys_explanations_and_key_code() -> None:
    text = hash_quiz_text(QUIZ, secret=SECRET)
    data = load_yaml(text)
    assert isinstance(data, dict)
    questions = data["questions"]
    assert all("answer" not in q and "explanation" not in q for q in questions)
    assert "code" not in questions[2] and "code" in questions[4]
    assert "0.41667" not in text and "epoch" not in text.split("questions:")[1].lower()
    assert "backward() fills .grad." not in text
    assert text.startswith("# Students' copy")
    decoded = base64.b64decode(questions[0]["explanation_b64"]).decode()
    assert decoded == "backward() fills .grad."


def test_hashed_copy_scores_exactly_like_the_original() -> None:
    plain, hashed = _parse(), _hashed()
    variants: list[dict[str, object]] = [
        RIGHT,
        WRONG,
        {"mse": "0.4174", "term": "an epoch", "pick-all": "ab"},
        {"mse": 0.4165},
    ]
    for answers in variants:
        mine, theirs = score_quiz(plain, answers), score_quiz(hashed, answers)
        assert [q.correct for q in mine.questions] == [q.correct for q in theirs.questions]
        assert mine.score == theirs.score
    assert all(q.expected is None for q in score_quiz(hashed, RIGHT).questions)
    assert [q.explanation for q in hashed.questions] == [q.explanation for q in plain.questions]


def test_hashing_is_pure_salted_per_question_and_idempotent() -> None:
    first = hash_quiz_text(QUIZ, secret=SECRET)
    assert hash_quiz_text(QUIZ, secret=SECRET) == first
    assert hash_quiz_text(QUIZ, secret=b"another") != first
    salts = {q.hashed.salt for q in _hashed().questions if q.hashed is not None}
    assert len(salts) == 5
    assert hash_quiz_text(first, secret=b"another") == first
    salt = question_salt(SECRET, "1.2", "mse")
    hashed_key = _hashed().questions[2].hashed
    assert hashed_key is not None
    assert hashed_key.digests == (answer_digest(salt, "0.417"),)


def test_hashing_refuses_invalid_quizzes_and_empty_secrets() -> None:
    with pytest.raises(CourseError, match="pick-one: expected answer"):
        hash_quiz_text(QUIZ.replace("answer: b", "answer: q"), secret=SECRET)
    with pytest.raises(ValueError, match="secret"):
        hash_quiz_text(QUIZ, secret=b"")


def test_hash_quiz_file_writes_the_copy(tmp_path: Path) -> None:
    source, copy = tmp_path / "1.2.yaml", tmp_path / "students" / "1.2.yaml"
    source.write_text(QUIZ, encoding="utf-8")
    hash_quiz_file(source, copy, secret=SECRET)
    assert validate_quiz_file(copy) == []
    assert copy.read_text(encoding="utf-8") == hash_quiz_text(
        QUIZ, secret=SECRET, source=str(source)
    )


def test_malformed_answer_hash_is_reported() -> None:
    text = QUIZ.replace("    answer: b\n", "    answer_hash: {salt: xyz, digests: [abc]}\n")
    assert _problems(text) == [
        "quizzes/1.2.yaml: pick-one: expected answer_hash with a hex salt and a list of "
        "64-hex-digit digests, got {'salt': 'xyz', 'digests': ['abc']}"
    ]
