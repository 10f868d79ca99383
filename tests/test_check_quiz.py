"""`check` includes a lesson's quiz, scored from the submission's answers file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from loopgrader.cli.main import cli

REPO = Path(__file__).resolve().parents[1]


def key_answers(lesson: str) -> dict[str, object]:
    data = yaml.safe_load((REPO / "quizzes" / f"{lesson}.yaml").read_text())
    return {q["id"]: q["answer"][0] if q["kind"] == "text" else q["answer"]
            for q in data["questions"]}


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", *args, "--course", str(REPO)])
    return result.exit_code, result.stdout + result.stderr


def test_quiz_only_lesson_is_checked_through_its_answers(tmp_path: Path) -> None:
    answers = key_answers("1.6")
    (tmp_path / "1.6").mkdir()
    (tmp_path / "1.6" / "answers.yaml").write_text(yaml.safe_dump(answers))
    code, out = check("1.6", "--submission", str(tmp_path))
    assert code == 0, out
    assert "Quiz: 15/15" in out


def test_wrong_and_missing_answers_are_listed(tmp_path: Path) -> None:
    answers = key_answers("1.6")
    first, second = list(answers)[:2]
    answers[first] = "d" if answers[first] != "d" else "a"
    del answers[second]
    (tmp_path / "1.6").mkdir()
    (tmp_path / "1.6" / "answers.yaml").write_text(yaml.safe_dump(answers))
    code, out = check("1.6", "--submission", str(tmp_path), "--format", "json")
    assert code == 1
    data = json.loads(out)
    statuses = {t["name"].split(":")[0]: t["status"] for t in data["tests"]}
    assert statuses[f"quiz {first}"] == "failed"
    assert statuses[f"quiz {second}"] == "failed"
    assert data["max_score"] == 15


def test_unreadable_answers_file_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "1.6").mkdir()
    (tmp_path / "1.6" / "answers.yaml").write_text("[this is: not: a mapping\n")
    code, out = check("1.6", "--submission", str(tmp_path))
    assert code == 1
    assert "Quiz: 0/15 —" in out and "answers.yaml" in out
    assert "Traceback" not in out


def test_unanswered_quiz_says_how_to_take_it(tmp_path: Path) -> None:
    code, out = check("2.7", "--submission", str(tmp_path))
    assert code == 1
    assert "not answered yet" in out and "loopgrader quiz 2.7" in out
