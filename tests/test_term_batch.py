"""The term end to end on the mini course (cheap): due dates, a late policy, an extension and a
manifest in the gradebook, both CSVs, the feedback pages, results.json and report --gradebook;
hidden feedback held back until the due date or a release; Canvas/Moodle files from a roster;
a regrade explained; bad term files refused with nothing changed."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch_harness import add_submission, make_course, write_file
from loopgrader.batch.exports import export_gradebook
from loopgrader.cli.batch import grade_command
from loopgrader.cli.main import cli
from loopgrader.course.catalog import load_course

pytestmark = pytest.mark.slow

UTC = timezone.utc
CALENDAR = """calendar:
  due:
    "1.1": 2099-01-01T00:00:00Z
  late_policy: {grace_minutes: 10, penalty_per_day: 0.1, last_day: 5}
"""
BEFORE = datetime(2098, 12, 31, tzinfo=UTC)
AFTER = datetime(2099, 1, 3, 0, 1, tzinfo=UTC)  # past cy's extended date too


def _setup(tmp_path: Path) -> tuple[Path, Path, dict[str, Path]]:
    course = make_course(tmp_path / "course")
    with open(course / "course.yaml", "a", encoding="utf-8") as handle:
        handle.write(CALENDAR)
    subs = tmp_path / "subs"
    add_submission(subs, "ann", "good")  # on time
    add_submission(subs, "bob", "good")  # 1.5 days late: 2 days, 20% of 6 points
    add_submission(subs, "cy", "wrong")  # late, but within a 2-day extension
    files = {
        "manifest": tmp_path / "manifest.csv",
        "extensions": tmp_path / "extensions.csv",
        "roster": tmp_path / "roster.csv",
    }
    files["manifest"].write_text("student,submitted_at\nann,2098-12-31T23:00:00Z\n"
                                 "bob,2099-01-02T12:00:00Z\ncy,2099-01-02T00:00:00-05:00\n")
    files["extensions"].write_text("student,lesson,due,extra_days\ncy,1.1,,2\n")
    files["roster"].write_text("student,first_name,last_name,email,lms_id,sis_id,section\n"
                               "ann,Ann,Lee,ann@x.edu,11,S1,A\nbob,Bob,Ray,bob@x.edu,12,S2,A\n"
                               "cy,Cy,Ng,cy@x.edu,13,S3,B\ndan,Dan,Oh,dan@x.edu,14,S4,B\n")
    return course, subs, files


def _grade(course: Path, subs: Path, out: Path, files: dict[str, Path],
           **replace: Path) -> tuple[int, str]:
    chosen = {**files, **replace}
    args = [str(subs), "--out", str(out), "--course", str(course), "--timeout", "10",
            "--isolation", "limits", "--manifest", str(chosen["manifest"]),
            "--extensions", str(chosen["extensions"]), "--roster", str(chosen["roster"])]
    result = CliRunner().invoke(grade_command, args)
    return result.exit_code, result.output + (str(result.exception) if result.exit_code else "")


def _pairs(out: Path) -> dict[str, sqlite3.Row]:
    with closing(sqlite3.connect(out / "gradebook.sqlite")) as db:
        db.row_factory = sqlite3.Row
        return {row["student"]: row for row in db.execute("SELECT * FROM pairs")}


def test_a_term_graded_with_dates_extension_manifest_and_roster(tmp_path: Path) -> None:
    course_dir, subs, files = _setup(tmp_path)
    out = tmp_path / "out"
    code, text = _grade(course_dir, subs, out, files)
    assert code == 0, text
    assert "note: 1 roster entr(y/ies) without a submission: dan (Dan Oh)" in text
    assert "the file time was used" not in text  # every time came from the manifest

    rows = _pairs(out)
    ann, bob, cy = rows["ann"], rows["bob"], rows["cy"]
    assert (ann["submitted_source"], ann["days_late"], ann["final_score"]) == ("manifest", 0, 4)
    assert bob["submitted_at"] == "2099-01-02T12:00:00+00:00" and bob["days_late"] == 2
    assert (bob["score"], bob["penalty"], bob["final_score"]) == (4, pytest.approx(1.2),
                                                                 pytest.approx(2.8))
    assert cy["due_at"] == "2099-01-03T00:00:00+00:00" and cy["days_late"] == 0
    assert (cy["score"], cy["final_score"]) == (1, 1)

    long = list(csv.DictReader((out / "grades_long.csv").read_text().splitlines()))
    bob_long = next(r for r in long if r["student"] == "bob")
    assert (bob_long["score"], bob_long["raw_score"], bob_long["days_late"],
            bob_long["penalty"]) == ("2.8", "4", "2", "1.2")
    wide = list(csv.DictReader((out / "grades_wide.csv").read_text().splitlines()))
    assert [(r["student"], r["lesson 1.1"], r["lesson 1.1 raw"], r["lesson 1.1 days late"])
            for r in wide] == [("ann", "4", "4", "0"), ("bob", "2.8", "4", "2"),
                               ("cy", "1", "1", "0")]

    course = load_course(course_dir)
    # before the due date: cy's hidden test is nowhere a student can see it
    export_gradebook(course, out, roster=files["roster"], now=BEFORE)
    page = (out / "feedback" / "cy.md").read_text()
    assert "add twice" not in page and "1 hidden test(s)" in page
    assert "score not released yet" in page
    assert "1 hidden test(s)" in (out / "feedback" / "cy.html").read_text()
    results = json.loads((out / "results" / "cy" / "results.json").read_text())
    hidden = next(t for t in results["tests"] if "add works twice" in t["name"])
    assert (hidden["visibility"], hidden["output"]) == ("after_due_date", "")
    assert results["visibility"] == "after_due_date"  # the total would tell, too
    assert "score after the release" in results["output"]
    assert "score" not in results["extra_data"]["lessons"]["1.1"]
    bob_page = (out / "feedback" / "bob.md").read_text()
    assert "2 day(s) after your due date" in bob_page
    assert "20% of the lesson's points off" in bob_page
    assert "raw score" not in bob_page  # it would tell whether the hidden test passed
    bob_results = json.loads((out / "results" / "bob" / "results.json").read_text())
    assert bob_results["score"] == pytest.approx(2.8)
    assert bob_results["extra_data"]["lessons"]["1.1"] == {
        "status": "graded", "max_score": 6.0, "released": False}

    export_gradebook(course, out, now=datetime(2099, 1, 1, 0, 1, tzinfo=UTC))
    assert "add twice" not in (out / "feedback" / "cy.md").read_text()  # cy's own date counts
    # after it: present
    export_gradebook(course, out, roster=files["roster"], now=AFTER)
    assert "add twice" in (out / "feedback" / "cy.md").read_text()
    results = json.loads((out / "results" / "cy" / "results.json").read_text())
    hidden = next(t for t in results["tests"] if "add works twice" in t["name"])
    assert hidden["visibility"] == "visible" and "add twice" in hidden["output"]
    assert "visibility" not in results
    bob_results = json.loads((out / "results" / "bob" / "results.json").read_text())
    assert bob_results["extra_data"]["lessons"]["1.1"]["raw_score"] == 4
    assert bob_results["extra_data"]["lessons"]["1.1"]["days_late"] == 2

    # the LMS files
    canvas = (out / "canvas.csv").read_text().splitlines()
    assert canvas[0] == "Student,ID,SIS User ID,SIS Login ID,Section,1.1 Adding things"
    assert canvas[1] == "    Points Possible,,,,,6"
    assert canvas[2:] == ['"Lee, Ann",11,S1,,A,4', '"Ray, Bob",12,S2,,A,2.8',
                          '"Ng, Cy",13,S3,,B,1', '"Oh, Dan",14,S4,,B,']
    moodle = (out / "moodle.csv").read_text().splitlines()
    assert moodle[0] == "First name,Last name,ID number,Email address,1.1 Adding things"
    assert moodle[2] == "Bob,Ray,S2,bob@x.edu,2.8"

    # report --gradebook honours the release (now is before 2099: hidden results held back)
    runner = CliRunner()
    args = ["report", "--gradebook", str(out), "--student", "cy", "--course", str(course_dir),
            "--format", "markdown"]
    held = runner.invoke(cli, args)
    assert held.exit_code == 0, held.output
    assert "Latest check (1/3)" in held.output  # the visible tests' points only
    assert "add works twice" not in held.output and "scale multiplies by k" in held.output
    released = runner.invoke(cli, ["release", "1.1", "--gradebook", str(out), "--course",
                                   str(course_dir)])
    assert released.exit_code == 0, released.output
    assert "add twice" in (out / "feedback" / "cy.md").read_text()
    shown = runner.invoke(cli, args)
    assert "Latest check (1/4)" in shown.output, shown.output
    assert "add works twice" in shown.output

    # bad term files: exit 2, one paragraph with file, line and fix, gradebook untouched
    before = _snapshot(out)
    bad = {
        "manifest": ("student,submitted_at\nann,2099-01-01 10:00\n", "line 2"),
        "extensions": ("student,lesson,extra_days\nzed,1.1,2\n", "unknown student 'zed'"),
        "roster": ("student,lms_id\nann,1\nbob,1\n", "lms_id '1' is on line 2"),
    }
    for kind, (text, words) in bad.items():
        path = tmp_path / f"bad_{kind}.csv"
        path.write_text(text)
        code, message = _grade(course_dir, subs, out, files, **{kind: path})
        assert code == 2, message
        assert str(path) in message and words in message and "nothing was graded" in message
        assert "Traceback" not in message
    manifest = course_dir / "course.yaml"
    good = manifest.read_text()
    for due, words in (('"2099-02-30T00:00:00Z"', "calendar.due.1.1"),
                       ("2099-02-30T00:00:00Z", "day is out of range for month"),
                       ('"2099-01-01T00:00"', "no time zone")):
        manifest.write_text(good.replace("2099-01-01T00:00:00Z", due))
        code, message = _grade(course_dir, subs, out, files)
        assert code == 2 and str(manifest) in message and words in message, message
    manifest.write_text(good)
    assert _snapshot(out) == before


def _snapshot(out: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(out / "gradebook.sqlite")) as db:
        found = [tuple(row) for row in db.execute("SELECT * FROM pairs ORDER BY student")]
        found += [tuple(row) for row in db.execute("SELECT id, command FROM runs")]
    return found


def test_a_regrade_lists_exactly_the_students_whose_score_changed(tmp_path: Path) -> None:
    course_dir, subs, files = _setup(tmp_path)
    out = tmp_path / "out"
    assert _grade(course_dir, subs, out, files)[0] == 0
    write_file(subs, "cy", (subs / "ann" / "1.1" / "calc.py").read_text())
    files["extensions"].write_text("student,lesson,due,extra_days\ncy,1.1,,2\nbob,1.1,,1\n")
    code, text = _grade(course_dir, subs, out, files)
    assert code == 0 and "1 graded now" in text, text
    result = CliRunner().invoke(cli, ["regrades", str(out), "--csv", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "run 1 -> run 2: 2 score(s) changed"
    assert lines[1].startswith("  bob 1.1: 2.8 -> 3.4 (+0.6)")  # the new extension: 1 day late
    assert "now passing" not in lines[1]
    assert lines[2].startswith("  cy 1.1: 1 -> 4 (+3)") and "now passing:" in lines[2]
    assert "test_add_twice" in lines[2] and "test_add" in lines[2]
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert [(r["student"], r["change"]) for r in rows] == [("bob", "+0.6"), ("cy", "+3")]
