"""The progress report: data, the four formats, damaged records, and a real browser render."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopgrader.cli.main import cli
from loopgrader.course.catalog import load_course
from loopgrader.output.report import build_report
from loopgrader.output.report_render import render_report
from loopgrader.records.progress import Attempt, Progress, TestOutcome, progress_dir, record_attempt

REPO = Path(__file__).resolve().parents[1]
COURSE = load_course(REPO)
START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def attempt(lesson: str, score: float, max_score: float = 20.0, kind: str = "exercise",
            minutes: int = 0, **extra: object) -> Attempt:
    return Attempt(lesson=lesson, kind=kind, score=score, max_score=max_score,
                   status="passed" if score == max_score else "attempted",
                   started_at=(START + timedelta(minutes=minutes)).isoformat(),
                   tests=(TestOutcome("t", score, max_score, "passed"),), **extra)  # type: ignore[arg-type]


def sample() -> Progress:
    curves = {"fit reaches least squares": {"loss": {"student": [4.0, 2.0, 1.0, 0.5],
                                                     "reference": [4.0, 1.5, 0.7, 0.4]}}}
    return Progress((
        attempt("1.2", 8.0, minutes=1),
        attempt("1.2", 20.0, minutes=2, timings={"train": 1.31}, curves=curves),
        attempt("1.2", 3.0, 3.0, kind="quiz", minutes=3),
        attempt("1.1", 5.0, 10.0, minutes=4),
    ))


def test_report_data() -> None:
    report = build_report(COURSE, sample())
    rows = {lesson.id: lesson for lesson in report.lessons}
    assert len(rows) == 22
    lesson = rows["1.2"]
    assert lesson.exercise_best is not None and lesson.exercise_best.score == 20.0
    assert lesson.exercise_attempts == 2 and lesson.quiz_attempts == 1
    assert [p.score for p in lesson.history] == [8.0, 20.0]
    assert lesson.timings == {"train": 1.31}
    assert lesson.curves["loss"]["reference"] == [4.0, 1.5, 0.7, 0.4]


def test_json_has_stable_documented_keys() -> None:
    data = json.loads(render_report(build_report(COURSE, sample()), "json"))
    assert set(data) == {"schema", "course", "student", "generated_at", "completion",
                         "attempts", "problems", "modules"}
    lesson = data["modules"][0]["lessons"][1]
    assert set(lesson) == {"id", "title", "built", "status", "has_exercise", "has_quiz",
                           "exercise", "quiz", "last_attempt", "history", "timings", "curves"}
    assert lesson["exercise"]["best"] == {"at": "2026-03-01T00:02:00+00:00", "score": 20.0,
                                          "max_score": 20.0}


def test_text_and_markdown_tables() -> None:
    report = build_report(COURSE, sample())
    text = render_report(report, "text")
    assert "Module 1 — The Elementary Training Loop" in text
    assert "1.2        20/20     3/3     3" in text
    markdown = render_report(report, "markdown")
    assert "| Lesson | Status | Exercise best |" in markdown
    assert "train 1.31×" in markdown


def test_html_is_self_contained_and_escaped() -> None:
    html = render_report(build_report(COURSE, sample(), student="<script>alert(1)</script>"),
                         "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # no external assets
    assert "<polyline" in html and "loss curve" in html


def test_empty_history_is_friendly() -> None:
    report = build_report(COURSE, Progress(()))
    for fmt in ("text", "markdown", "html"):
        assert "Nothing checked yet" in render_report(report, fmt)
        assert "loopgrader check 1.1" in render_report(report, fmt)


def test_lessons_without_quiz_or_exercise_render() -> None:
    html = render_report(build_report(COURSE, Progress((attempt("1.6", 9.0, 10.0, "quiz"),))),
                         "html")
    assert "1.6" in html


def test_damaged_progress_is_reported_never_fatal(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini", course)
    record_attempt(course, attempt("1.1", 2.0, 4.0))
    (progress_dir(course) / "zz.json").write_text("{broken")
    result = CliRunner().invoke(cli, ["report", "--course", str(course)])
    assert result.exit_code == 0
    assert "unreadable progress record" in result.stdout
    assert "2/4" in result.stdout


def test_report_out_file_is_written(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini", course)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--course", str(course), "--format", "html",
                                      "--out", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("<!doctype html>")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install Debian's chromium package")
        pytest.skip("chromium is not installed here (CI installs it and always runs this test)")
    page = tmp_path / "report.html"
    page.write_text(render_report(build_report(COURSE, sample()), "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False)
    assert "Module 3 — Advanced Training Loops and Modern Tricks" in dom.stdout, dom.stderr[-2000:]
    assert dom.stdout.count("<polyline") >= 3
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
