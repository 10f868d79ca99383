"""The progress report: data, the four formats, damaged records, and a real browser render."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopgrader.cli.main import cli
from loopgrader.course.catalog import load_course
from loopgrader.output.report import build_report
from loopgrader.output.report_render import render_report
from loopgrader.records.progress import Attempt, Progress, progress_dir, record_attempt
from loopgrader.records.result import LessonResult, TestResult

REPO = Path(__file__).resolve().parents[1]
COURSE = load_course(REPO)
START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def attempt(lesson: str, score: float, max_score: float = 20.0, kind: str = "exercise",
            minutes: int = 0, **extra: object) -> Attempt:
    result = LessonResult(lesson, "passed" if score == max_score else "attempted", score,
                          max_score, (TestResult("t", score, max_score, True),),
                          **extra)  # type: ignore[arg-type]
    return Attempt(kind, result, (START + timedelta(minutes=minutes)).isoformat())


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
                         "progress", "next_step", "attempts", "problems", "modules"}
    lesson = data["modules"][0]["lessons"][1]
    assert set(lesson) == {"id", "title", "built", "status", "has_exercise", "has_quiz",
                           "exercise", "quiz", "last_attempt", "history", "timings", "curves",
                           "exercise_status", "quiz_status", "parts", "progress",
                           "latest_tests", "quiz_questions", "timing_history", "next_step"}
    assert lesson["parts"] == "exercise passed · quiz passed"
    assert lesson["latest_tests"] == [{"name": "t", "score": 20.0, "max_score": 20.0,
                                       "status": "passed"}]
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
    assert "<polyline" in html and "Loss curves" in html
    assert "<link" not in html and " src=" not in html and "@import" not in html


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


def test_check_then_report_shows_the_failing_test_and_stub_as_not_started(
        tmp_path: Path) -> None:
    """End to end: `check` records each test's message and hint; the report shows them, and a
    check of the untouched stub stays "not started"."""
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini", course)
    runner = CliRunner()
    stub = runner.invoke(cli, ["check", "1.1", "--course", str(course)])
    assert stub.exit_code == 1, stub.output
    report = runner.invoke(cli, ["report", "--course", str(course)])
    assert "not started" in report.stdout and "attempted" not in report.stdout, report.stdout
    wrong = runner.invoke(cli, ["check", "1.1", "--course", str(course), "--submission",
                                str(REPO / "tests" / "fixtures" / "submissions" / "wrong")])
    assert wrong.exit_code == 1, wrong.output
    markdown = runner.invoke(cli, ["report", "--course", str(course), "--format", "markdown"])
    assert "| add returns the sum | failed | 0/2 | add(a, b)" in markdown.stdout, markdown.stdout
    assert "hint: use the + operator" in markdown.stdout
    assert "What next: 1.1: fix “add returns the sum” first" in markdown.stdout


def test_report_out_file_is_written(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini", course)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--course", str(course), "--format", "html",
                                      "--out", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("<!doctype html>")


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install Debian's chromium package")
        pytest.skip("chromium is not installed here (CI installs it and always runs this test)")
    return browser


def _flags(browser: str, profile: Path, *extra: str) -> list[str]:
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", *extra]


def rich() -> Progress:
    """A student part-way: 1.1 attempted on the untouched stub, 1.2 passed with curves and
    timings over two attempts and no quiz yet, 1.3 with a failing test and a quiz half right."""
    curves = {"fits": {"loss": {"student": [0.5 * 0.97 ** i + 0.00699 for i in range(200)],
                                "reference": [0.5 * 0.95 ** i + 0.00699 for i in range(200)]}}}
    failing = TestResult("loss decreases", 0.0, 4.0, False,
                         message="losses[5] > losses[4]: the loss went up",
                         hint="a smaller learning rate")
    quiz = (TestResult("q1", 1.0, 1.0, True, prompt="What does zero_grad() do?",
                       given="B", expected="B", explanation="It clears every .grad."),
            TestResult("q2", 0.0, 1.0, False, prompt="Which batch size is plain SGD?",
                       given="A", expected="C", explanation="One sample per step."),
            TestResult("q3", 0.0, 1.0, False, prompt="What is an epoch?"))
    return Progress((
        Attempt("exercise", LessonResult("1.1", "not started", 0.0, 19.0, (
            TestResult("t", 0.0, 19.0, False, message="not implemented"),)), START.isoformat()),
        attempt("1.2", 12.0, 21.0, minutes=1, timings={"train": 1.84}),
        attempt("1.2", 21.0, 21.0, minutes=2, timings={"train": 1.31}, curves=curves),
        Attempt("exercise", LessonResult("1.3", "attempted", 38.0, 42.0, (
            TestResult("returns floats", 38.0, 38.0, True), failing)),
            (START + timedelta(minutes=3)).isoformat()),
        Attempt("quiz", LessonResult("1.3", "attempted", 1.0, 3.0, quiz),
                (START + timedelta(minutes=4)).isoformat()),
    ))


def test_statuses_are_truthful_and_progress_moves() -> None:
    report = build_report(COURSE, rich())
    rows = {lesson.id: lesson for lesson in report.lessons}
    assert rows["1.1"].status == "not started"  # an attempt on the untouched stub
    assert rows["1.1"].parts == "exercise to do · quiz to do"
    assert rows["1.2"].parts == "exercise passed · quiz to do"
    assert rows["1.3"].parts == "exercise in progress · quiz in progress"
    assert 0 < report.progress < 1 and report.completion == 0
    text = render_report(report, "text")
    assert "1.1" in text and "attempted 0/" not in text
    assert "exercise passed · quiz to do" in text
    assert "timing train: 1.84× → 1.31×" in text
    assert "What next: 1.2: take the quiz: `loopgrader quiz 1.2`" in text
    markdown = render_report(report, "markdown")
    assert "| 1.2 The Simplest Case: Linear Regression | exercise passed · quiz to do |" \
        in markdown
    assert "loss decreases | failed | 0/4 | losses[5] > losses[4]: the loss went up — hint: " \
           "a smaller learning rate" in markdown
    assert "your answer: **A** (not correct, 0/1); key: C. One sample per step." in markdown
    assert "*not answered yet*" in markdown
    before = build_report(COURSE, Progress(rich().attempts[:2])).progress
    assert before < report.progress  # every point earned moves the overall figure


def test_html_report_details_curves_and_quiz() -> None:
    html = render_report(build_report(COURSE, rich()), "html")
    assert html.count('<details class="lesson"') == 3
    assert "stroke-dasharray" in html and 'class="s-reference"' in html  # reference drawn
    assert 'class="s-student"' in html and ">step</text>" in html and "</svg> yours" in html
    assert "prefers-color-scheme: dark" in html and "@media print" in html
    assert "Your answer: <strong>A</strong>" in html and "Key: C" in html
    assert "losses[5] &gt; losses[4]" in html and "Hint: a smaller learning rate" in html
    assert "train: 1.84× → 1.31×" in html


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_html_report_renders_in_headless_chromium(tmp_path: Path, scheme: str) -> None:
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(render_report(build_report(COURSE, rich()), "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    colours = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] \
        if scheme == "dark" else []
    flags = _flags(browser, tmp_path / "profile", *colours)
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False)
    assert "Module 3 — Advanced Training Loops and Modern Tricks" in dom.stdout, dom.stderr[-2000:]
    assert dom.stdout.count("<polyline") >= 4
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,2200", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("LOOPGRADER_SCREENSHOTS")
    if keep:  # to look at them: LOOPGRADER_SCREENSHOTS=/tmp/shots pytest tests/test_report.py
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / f"report-{scheme}.png")


def test_a_link_to_a_lesson_opens_its_details(tmp_path: Path) -> None:
    """Keyboard users follow the table's lesson links (Tab, Enter): the lesson's folded
    details open; the others stay folded."""
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(render_report(build_report(COURSE, rich()), "html"), encoding="utf-8")
    assert 'href="#lesson-1-3"' in page.read_text(encoding="utf-8")
    dom = subprocess.run([*_flags(browser, tmp_path / "profile"), "--dump-dom",
                          page.as_uri() + "#lesson-1-3"], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert re.search(r'<details[^>]*id="lesson-1-3"[^>]*\sopen', dom), dom[-3000:]
    assert not re.search(r'<details[^>]*id="lesson-1-2"[^>]*\sopen', dom)


def _axe_script() -> str:
    """axe-core's axe.min.js: $LOOPGRADER_AXE_JS (CI sets it, see .ci/run), or
    node_modules/axe-core/ at the repository root (`npm install axe-core`)."""
    candidates = [Path(p) for p in (os.environ.get("LOOPGRADER_AXE_JS"),) if p]
    candidates.append(REPO / "node_modules" / "axe-core" / "axe.min.js")
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the accessibility audit: .ci/run installs axe-core with npm "
                        "and sets LOOPGRADER_AXE_JS")
        pytest.skip("axe-core is not installed here (npm install axe-core; CI always runs this)")
    return found.read_text(encoding="utf-8")


AXE_RUNNER = """
<script>%s</script>
<script>
document.querySelectorAll("details").forEach(function (d) { d.open = true; });
axe.run(document, {resultTypes: ["violations"]}).then(function (result) {
  var out = document.createElement("pre");
  out.id = "axe-result";
  out.textContent = JSON.stringify(result.violations.map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(function (n) { return n.target.join(" "); })};
  }));
  document.body.appendChild(out);
}, function (error) {
  var out = document.createElement("pre");
  out.id = "axe-result";
  out.textContent = JSON.stringify([{id: "axe-error", impact: "critical", help: String(error),
                                     nodes: []}]);
  document.body.appendChild(out);
});
</script>
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_html_report_passes_an_axe_core_audit(tmp_path: Path, scheme: str) -> None:
    """axe-core run inside headless Chromium on the report (details open): no serious or
    critical accessibility violation, in light and dark mode."""
    browser = _chromium()
    runner = AXE_RUNNER % _axe_script().replace("</script", "<\\/script")
    html = render_report(build_report(COURSE, rich(), student="Ada"), "html")
    page = tmp_path / "audit.html"
    page.write_text(html.replace("</body>", runner + "</body>"), encoding="utf-8")
    colours = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] \
        if scheme == "dark" else []
    dom = subprocess.run([*_flags(browser, tmp_path / "profile", *colours),
                          "--virtual-time-budget=60000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="axe-result">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the audit did not finish: {dom.stderr[-2000:]}"
    violations = json.loads(unescape(found.group(1)))
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, json.dumps(bad, indent=1)


def test_axe_core_audit_finds_what_it_should(tmp_path: Path) -> None:
    """The audit is not vacuous: on a page with grey-on-white text and an unlabelled image it
    reports serious violations."""
    browser = _chromium()
    runner = AXE_RUNNER % _axe_script().replace("</script", "<\\/script")
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html lang="en"><head><title>bad</title></head><body><main>'
                    '<p style="color:#ccc;background:#fff">faint</p><img src="data:image/gif;'
                    'base64,R0lGODlhAQABAAAAACw=" width="20" height="20"></main>' + runner
                    + "</body></html>", encoding="utf-8")
    dom = subprocess.run([*_flags(browser, tmp_path / "profile"), "--virtual-time-budget=60000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=180, check=False)
    found = re.search(r'<pre id="axe-result">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    ids = {v["id"] for v in json.loads(unescape(found.group(1)))}
    assert {"color-contrast", "image-alt"} <= ids
