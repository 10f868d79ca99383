"""The course's 22 quizzes: every file valid, enough and varied questions, every key proven.

Each question that carries ``code`` has its key checked by running that code with torch: all
snippets run in two worker processes at once (one of them in reverse order, which also shows a
snippet does not depend on what ran before it), so the whole check costs about one torch import.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopgrader.quiz.format import format_number, normalize_text
from loopgrader.quiz.hashing import hash_quiz_text
from loopgrader.quiz.loader import KINDS, Question, Quiz, load_quiz, parse_quiz, validate_quiz_file
from loopgrader.quiz.scoring import score_quiz

QUIZZES = Path(__file__).resolve().parents[1] / "quizzes"
MODULE_SIZES = {1: 6, 2: 7, 3: 9}
LESSONS = [f"{module}.{n}" for module, size in MODULE_SIZES.items() for n in range(1, size + 1)]
CHECKPOINTS = {"1.6", "2.7", "3.9"}
SNIPPET_SECONDS = 1.0
RUNNER_TIMEOUT = 120

RUNNER = r"""
import contextlib, io, json, sys, time
import torch

torch.set_num_threads(1)  # tiny snippets; no thread oversubscription when tests run in parallel

# Warm up what torch imports lazily on first use, so no snippet is charged for it.
_w = torch.zeros(1, requires_grad=True)
_opt = torch.optim.Adam([_w])
torch.optim.lr_scheduler.StepLR(_opt, step_size=1)
_w.sum().backward()
_opt.step()
list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(2)), batch_size=1))

jobs = json.loads(open(sys.argv[1], encoding="utf-8").read())
if sys.argv[2] == "reverse":
    jobs = jobs[::-1]
results = {}
for job in jobs:
    buffer = io.StringIO()
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    start = time.process_time()
    error = None
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(job["code"], job["name"], "exec"), {"__name__": "__main__"})
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
    results[job["name"]] = {
        "stdout": buffer.getvalue(), "seconds": time.process_time() - start, "error": error,
    }
sys.stdout.write(json.dumps(results))
"""


@dataclass(frozen=True)
class Run:
    """What one snippet printed, the CPU time it took, and the exception it raised if any."""

    stdout: str
    seconds: float
    error: str | None


def _load_all() -> dict[str, Quiz]:
    return {path.stem: load_quiz(path) for path in sorted(QUIZZES.glob("*.yaml"))}


ALL = _load_all()
COMPUTED = [
    pytest.param(lesson, question, id=f"{lesson}:{question.id}")
    for lesson, quiz in ALL.items()
    for question in quiz.questions
    if question.code is not None
]


def _name(lesson: str, question: Question) -> str:
    return f"quizzes/{lesson}.yaml:{question.id}"


def _run_all(jobs_file: Path, order: str) -> dict[str, Run]:
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(jobs_file), order],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"snippet runner crashed:\n{completed.stderr[-3000:]}"
    raw = json.loads(completed.stdout)
    return {name: Run(r["stdout"], r["seconds"], r["error"]) for name, r in raw.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Run], dict[str, Run]]:
    """Every snippet's run, in file order and in reverse order (two processes in parallel)."""
    jobs = [
        {"name": _name(lesson, question), "code": question.code}
        for lesson, quiz in ALL.items()
        for question in quiz.questions
        if question.code is not None
    ]
    jobs_file = tmp_path_factory.mktemp("quiz_snippets") / "jobs.json"
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    with ThreadPoolExecutor(max_workers=2) as pool:
        forward = pool.submit(_run_all, jobs_file, "forward")
        backward = pool.submit(_run_all, jobs_file, "reverse")
        return forward.result(), backward.result()


def test_every_lesson_has_exactly_one_quiz() -> None:
    assert sorted(ALL) == sorted(LESSONS), "quizzes/ must hold one <id>.yaml per lesson"


@pytest.mark.parametrize("lesson", LESSONS)
def test_quiz_file_validates(lesson: str) -> None:
    assert validate_quiz_file(QUIZZES / f"{lesson}.yaml") == []


@pytest.mark.parametrize("lesson", LESSONS)
def test_enough_questions_of_varied_kinds(lesson: str) -> None:
    quiz = ALL[lesson]
    kinds = Counter(q.kind for q in quiz.questions)
    minimum = 10 if lesson in CHECKPOINTS else 4
    assert len(quiz.questions) >= minimum, f"{lesson}: {len(quiz.questions)} questions"
    if lesson in CHECKPOINTS:
        assert set(kinds) == set(KINDS), f"checkpoint {lesson} lacks kinds: {kinds}"
    else:
        assert len(kinds) >= 3, f"{lesson} mixes too few kinds: {kinds}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_keys_are_plain_and_computable_answers_carry_code(lesson: str) -> None:
    for question in ALL[lesson].questions:
        assert question.hashed is None, f"{lesson}:{question.id}: the course keeps plain keys"
        if question.kind in ("numeric", "output"):
            assert question.code is not None, f"{lesson}:{question.id}: a computed key needs code"


@pytest.mark.parametrize("lesson", LESSONS)
def test_choices_are_distinct(lesson: str) -> None:
    for question in ALL[lesson].questions:
        texts = [normalize_text(text) for _, text in question.choices]
        assert len(set(texts)) == len(texts), f"{lesson}:{question.id}: two choices read alike"


@pytest.mark.parametrize("lesson", LESSONS)
def test_hashed_copy_accepts_every_key_and_nothing_else(lesson: str) -> None:
    plain = ALL[lesson]
    text = (QUIZZES / f"{lesson}.yaml").read_text(encoding="utf-8")
    hashed, problems = parse_quiz(hash_quiz_text(text, secret=b"test"), source=lesson)
    assert hashed is not None, problems
    right: dict[str, object] = {q.id: _key_answer(q) for q in plain.questions}
    assert score_quiz(hashed, right).score == plain.max_score
    for question in plain.questions:
        for key in question.keys:
            assert score_quiz(hashed, {question.id: _key_answer(question, key)}).score > 0
    wrong: dict[str, object] = {q.id: _wrong_answer(q) for q in plain.questions}
    assert score_quiz(hashed, wrong).score == 0


def _key_answer(question: Question, key: str | None = None) -> object:
    key = question.keys[0] if key is None else key
    return list(key) if question.kind == "multiple" else key


def _wrong_answer(question: Question) -> object:
    if question.kind in ("single", "multiple"):
        return next(letter for letter in question.letters if letter not in question.keys[0])
    if question.kind == "numeric":
        return float(question.keys[0]) + 1
    return "not the answer"


@pytest.mark.parametrize(("lesson", "question"), COMPUTED)
def test_computed_key_matches_its_code(
    lesson: str, question: Question, runs: tuple[dict[str, Run], dict[str, Run]]
) -> None:
    run = runs[0][_name(lesson, question)]
    assert run.error is None, f"{_name(lesson, question)} raised {run.error}"
    _assert_key(question, run.stdout)


@pytest.mark.parametrize(("lesson", "question"), COMPUTED)
def test_snippet_is_fast_and_deterministic(
    lesson: str, question: Question, runs: tuple[dict[str, Run], dict[str, Run]]
) -> None:
    name = _name(lesson, question)
    forward, backward = runs[0][name], runs[1][name]
    assert forward.stdout == backward.stdout, f"{name} prints different things on two runs"
    assert max(forward.seconds, backward.seconds) < SNIPPET_SECONDS, f"{name} is too slow"


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def _assert_key(question: Question, stdout: str) -> None:
    if question.kind == "output":
        assert question.expected is not None
        assert _lines(stdout) == _lines(question.expected), f"the code prints {stdout!r}"
    elif question.kind == "numeric":
        assert question.decimals is not None
        value = float(stdout)
        assert format_number(value, question.decimals) == question.keys[0], f"computed {value}"
        scaled = abs(value) * 10**question.decimals
        assert abs(scaled - math.floor(scaled) - 0.5) > 0.05, f"{value} is on a rounding edge"
    elif question.kind == "text":
        assert normalize_text(stdout) in question.keys, f"the code prints {stdout!r}"
    else:
        printed = {normalize_text(line) for line in stdout.splitlines() if line.strip()}
        keyed = {
            normalize_text(text) for letter, text in question.choices if letter in question.keys[0]
        }
        assert printed == keyed, f"the code prints {stdout!r}"
