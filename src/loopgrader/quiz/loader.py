"""Quizzes: reading and validating quiz files, and the entry point to everything quiz.

A quiz file (``quizzes/<lesson>.yaml``) holds ``lesson``, ``title`` and a list of ``questions``;
``docs/quizzes.md`` is the reference for course authors. Every problem found in a quiz file is
reported, each as ``<file>: <question id>: expected …, got …``; :func:`load_quiz` raises them
together as one :class:`~loopgrader.errors.CourseError`.

This module also re-exports what other commands need: the model (:mod:`loopgrader.quiz.model`),
scoring (:mod:`loopgrader.quiz.scoring`) and :func:`load_answers`
(:mod:`loopgrader.quiz.session`). Hashed students' copies are made by
:mod:`loopgrader.quiz.hashing`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from loopgrader.errors import CourseError
from loopgrader.quiz.format import (
    format_number,
    load_yaml,
    normalize_letters,
    normalize_output,
    normalize_text,
)
from loopgrader.quiz.model import KINDS, HashedKey, Question, Quiz
from loopgrader.quiz.scoring import (
    QuestionResult,
    QuizResult,
    check_answers,
    quiz_result_to_attempt,
    score_quiz,
)
from loopgrader.quiz.session import load_answers

__all__ = [
    "KINDS",
    "HashedKey",
    "Question",
    "QuestionResult",
    "Quiz",
    "QuizResult",
    "check_answers",
    "load_answers",
    "load_quiz",
    "parse_quiz",
    "quiz_result_to_attempt",
    "score_quiz",
    "validate_quiz_file",
]

_COMMON_KEYS = frozenset(
    {"id", "kind", "prompt", "points", "code", "answer", "answer_hash"}
    | {"explanation", "explanation_b64"}
)
_KIND_KEYS: Mapping[str, frozenset[str]] = {
    "single": frozenset({"choices"}),
    "multiple": frozenset({"choices"}),
    "numeric": frozenset({"decimals"}),
    "text": frozenset(),
    "output": frozenset(),
}
_TOP_KEYS = frozenset({"lesson", "title", "questions"})
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_LESSON = re.compile(r"\d+\.\d+")
_HEX = re.compile(r"[0-9a-f]+")
_MAX_DECIMALS = 10


@dataclass
class _Problems:
    """Problems found in one file, written for course authors."""

    source: str
    items: list[str] = field(default_factory=list)

    def add(self, where: str, expected: str, got: str) -> None:
        self.items.append(f"{self.source}: {where}: expected {expected}, got {got}")


def _show(value: object) -> str:
    """A short, readable rendering of a bad value."""
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_quiz(path: Path) -> Quiz:
    """Read and validate a quiz file; every problem together in one :class:`CourseError`."""
    quiz, problems = _read(path)
    if quiz is None:
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        raise CourseError(f"{path} is not a valid quiz ({count}):\n" + "\n".join(problems))
    return quiz


def validate_quiz_file(path: Path) -> list[str]:
    """Every problem of a quiz file, as ``file: question id: expected …, got …`` (empty: valid)."""
    return _read(path)[1]


def _read(path: Path) -> tuple[Quiz | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: top level: expected a readable UTF-8 file, got {exc}"]
    stem = path.stem if _LESSON.fullmatch(path.stem) else None
    return parse_quiz(text, source=str(path), lesson=stem)


def parse_quiz(
    text: str, *, source: str, lesson: str | None = None
) -> tuple[Quiz | None, list[str]]:
    """Parse quiz YAML; returns the quiz (``None`` if any problem) and every problem found.

    ``lesson``, when given, is the id the file must declare (its file name).
    """
    problems = _Problems(source)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        problems.add("top level", "valid YAML", " ".join(str(exc).split()))
        return None, problems.items
    if not isinstance(data, dict):
        problems.add("top level", "a mapping with lesson, title and questions", _show(data))
        return None, problems.items
    _unknown_keys(data, _TOP_KEYS, "top level", problems)
    declared = _lesson(data.get("lesson"), lesson, problems)
    title = _text(data, "title", "top level", problems)
    questions = _questions(data.get("questions"), problems)
    if problems.items:
        return None, problems.items
    return Quiz(declared, title, questions, source), []


def _lesson(value: object, expected: str | None, problems: _Problems) -> str:
    if not isinstance(value, str) or not _LESSON.fullmatch(value):
        problems.add("lesson", 'a quoted lesson id such as "1.2"', _show(value))
        return ""
    if expected is not None and value != expected:
        problems.add("lesson", f"{expected!r} (the file's name)", _show(value))
    return value


def _unknown_keys(
    data: Mapping[object, object], allowed: frozenset[str], where: str, problems: _Problems
) -> None:
    for key in data:
        if key not in allowed:
            problems.add(where, f"only the keys {', '.join(sorted(allowed))}", f"{key!r}")


def _text(data: Mapping[object, object], key: str, where: str, problems: _Problems) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.add(where, f"{key} to be non-empty text", _got(data, key))
        return ""
    return value.strip()


def _questions(value: object, problems: _Problems) -> tuple[Question, ...]:
    if not isinstance(value, list) or not value:
        problems.add("questions", "a non-empty list of questions", _show(value))
        return ()
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(value, start=1):
        question = _question(item, f"question {index}", problems)
        if question is None:
            continue
        if question.id in seen:
            problems.add(question.id, "each question id once", "it a second time")
        seen.add(question.id)
        questions.append(question)
    return tuple(questions)


def _question(item: object, where: str, problems: _Problems) -> Question | None:
    if not isinstance(item, dict):
        problems.add(where, "a mapping with id, kind, prompt, points, answer", _show(item))
        return None
    before = len(problems.items)
    qid = item.get("id")
    if isinstance(qid, str) and _ID.fullmatch(qid):
        where = qid
    else:
        problems.add(where, "id made of a-z, 0-9, '-' and '_' (at most 40)", _show(qid))
    raw_kind = item.get("kind")
    kind = raw_kind if isinstance(raw_kind, str) and raw_kind in KINDS else None
    if kind is None:
        problems.add(where, f"kind to be one of {', '.join(KINDS)}", _show(raw_kind))
    allowed = _COMMON_KEYS | (_KIND_KEYS[kind] if kind else frozenset().union(*_KIND_KEYS.values()))
    _unknown_keys(item, allowed, where, problems)
    prompt = _text(item, "prompt", where, problems)
    points = _points(item, where, problems)
    explanation = _explanation(item, where, problems)
    code = _code(item, kind, where, problems)
    has_choices = kind in ("single", "multiple")
    choices = _choices(item, where, problems) if has_choices else ()
    decimals = _decimals(item, where, problems) if kind == "numeric" else None
    keys, expected, hashed = _key(item, kind, choices, decimals, where, problems)
    if len(problems.items) > before or kind is None:
        return None
    return Question(
        where, kind, prompt, points, explanation, choices, decimals, code, keys, expected, hashed
    )


def _got(item: Mapping[object, object], key: str) -> str:
    """How a bad or missing value of ``key`` is shown in a problem."""
    return _show(item[key]) if key in item else "nothing"


def _points(item: Mapping[object, object], where: str, problems: _Problems) -> float:
    value = item.get("points")
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    problems.add(where, "points to be a positive number", _got(item, "points"))
    return 0.0


def _explanation(item: Mapping[object, object], where: str, problems: _Problems) -> str:
    if "explanation_b64" not in item:
        return _text(item, "explanation", where, problems)
    if "explanation" in item:
        problems.add(where, "either explanation or explanation_b64", "both")
        return ""
    value = item["explanation_b64"]
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return base64.b64decode(value, validate=True).decode("utf-8").strip()
    except (ValueError, binascii.Error):
        problems.add(where, "explanation_b64 to be base64 of UTF-8 text", _show(value))
        return ""


def _code(
    item: Mapping[object, object], kind: str | None, where: str, problems: _Problems
) -> str | None:
    if "code" not in item:
        if kind == "output":
            problems.add(where, "code (the code whose printed output is asked)", "nothing")
        return None
    return _text(item, "code", where, problems) or None


def _choices(
    item: Mapping[object, object], where: str, problems: _Problems
) -> tuple[tuple[str, str], ...]:
    value = item.get("choices")
    if not isinstance(value, dict) or len(value) < 2:
        problems.add(where, "choices to map at least two letters to texts", _got(item, "choices"))
        return ()
    choices: list[tuple[str, str]] = []
    for letter, text in value.items():
        if not (isinstance(letter, str) and len(letter) == 1 and "a" <= letter <= "z"):
            problems.add(where, "choice letters a to z", _show(letter))
        elif not isinstance(text, str | int | float) or not str(text).strip():
            problems.add(where, f"choice {letter} to be non-empty text", _show(text))
        else:
            choices.append((letter, str(text).strip()))
    return tuple(choices)


def _decimals(item: Mapping[object, object], where: str, problems: _Problems) -> int | None:
    value = item.get("decimals")
    if isinstance(value, int) and 0 <= value <= _MAX_DECIMALS:
        return value
    wanted = f"decimals to be a whole number from 0 to {_MAX_DECIMALS}"
    problems.add(where, wanted, _got(item, "decimals"))
    return None


def _key(
    item: Mapping[object, object],
    kind: str | None,
    choices: tuple[tuple[str, str], ...],
    decimals: int | None,
    where: str,
    problems: _Problems,
) -> tuple[tuple[str, ...], str | None, HashedKey | None]:
    has_answer, has_hash = "answer" in item, "answer_hash" in item
    if has_answer and has_hash:
        problems.add(where, "either answer or answer_hash", "both")
    elif has_hash:
        return (), None, _hashed_key(item["answer_hash"], where, problems)
    elif not has_answer:
        problems.add(where, "an answer (or answer_hash in a hashed copy)", "nothing")
    elif kind is not None:
        return _plain_key(kind, item["answer"], choices, decimals, where, problems)
    return (), None, None


def _plain_key(
    kind: str,
    answer: object,
    choices: tuple[tuple[str, str], ...],
    decimals: int | None,
    where: str,
    problems: _Problems,
) -> tuple[tuple[str, ...], str | None, HashedKey | None]:
    letters = dict(choices)
    if kind == "single":
        if isinstance(answer, str) and answer in letters:
            return (answer,), f"{answer}: {letters[answer]}", None
        problems.add(
            where, f"answer to be one of the choice letters {', '.join(letters)}", _show(answer)
        )
    elif kind == "multiple":
        if isinstance(answer, list) and _distinct_letters(answer, letters):
            return (normalize_letters(answer),), ", ".join(sorted(answer)), None
        problems.add(
            where,
            f"answer to be a list of distinct letters out of {', '.join(letters)}",
            _show(answer),
        )
    elif kind == "numeric":
        if isinstance(answer, int | float) and math.isfinite(answer):
            shown = format_number(answer, decimals) if decimals is not None else str(answer)
            return (shown,), shown, None
        problems.add(where, "answer to be a number", _show(answer))
    else:
        return _text_key(kind, answer, where, problems)
    return (), None, None


def _distinct_letters(answer: list[object], letters: Mapping[str, str]) -> bool:
    chosen = [a for a in answer if isinstance(a, str) and a in letters]
    return bool(answer) and len(chosen) == len(answer) and len(set(chosen)) == len(chosen)


def _text_key(
    kind: str, answer: object, where: str, problems: _Problems
) -> tuple[tuple[str, ...], str | None, HashedKey | None]:
    accepted = answer if isinstance(answer, list) and kind == "text" else [answer]
    normal = normalize_text if kind == "text" else normalize_output
    texts = [str(a).strip() for a in accepted if isinstance(a, str | int | float)]
    if len(texts) == len(accepted) and texts and all(normal(t) for t in texts):
        return tuple(normal(t) for t in texts), texts[0], None
    wanted = "non-empty text or a list of accepted texts" if kind == "text" else "the printed text"
    problems.add(where, f"answer to be {wanted}", _show(answer))
    return (), None, None


def _hashed_key(value: object, where: str, problems: _Problems) -> HashedKey | None:
    if isinstance(value, dict) and set(value) == {"salt", "digests"}:
        salt, digests = value["salt"], value["digests"]
        if (
            _is_hex(salt, minimum=16)
            and isinstance(digests, list)
            and digests
            and all(_is_hex(d, minimum=64, maximum=64) for d in digests)
        ):
            return HashedKey(str(salt), tuple(str(d) for d in digests))
    problems.add(
        where, "answer_hash with a hex salt and a list of 64-hex-digit digests", _show(value)
    )
    return None


def _is_hex(value: object, *, minimum: int, maximum: int = 256) -> bool:
    return (
        isinstance(value, str)
        and minimum <= len(value) <= maximum
        and len(value) % 2 == 0
        and _HEX.fullmatch(value) is not None
    )
