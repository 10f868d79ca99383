"""Canvas's gradebook CSV and Moodle's grade import CSV, byte for byte."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from loopgrader.output.canvas import CANVAS_HEADER, POINTS_POSSIBLE, canvas_column, canvas_csv
from loopgrader.output.moodle import MOODLE_HEADER, moodle_csv


@dataclass(frozen=True)
class Someone:
    first_name: str
    last_name: str
    email: str = ""
    lms_id: str = ""
    sis_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def sortable_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


PEOPLE = [Someone("Jane", "Doe", "jane@example.edu", "4711", "S001", "jdoe", "Section A"),
          Someone("Bo", "Li", "Bo.Li@example.edu", "4712", "S002", "bli", "Section B"),
          Someone("Eve", "=1+1", "eve@example.edu", "4713")]


def test_canvas_file_is_canvas_export_layout() -> None:
    columns = [("1.2", canvas_column("1.2", "The Simplest Case: Linear Regression", "901"), 21.0),
               ("2.3", canvas_column("2.3", "A Net (from scratch)"), 35.0)]
    scores = {(0, "1.2"): 18.5, (0, "2.3"): 35.0, (1, "1.2"): 0.0, (2, "2.3"): 12.345}
    expected = (
        "Student,ID,SIS User ID,SIS Login ID,Section,"
        "1.2 The Simplest Case: Linear Regression (901),2.3 A Net\n"
        "    Points Possible,,,,,21,35\n"
        '"Doe, Jane",4711,S001,jdoe,Section A,18.5,35\n'
        '"Li, Bo",4712,S002,bli,Section B,0,\n'
        "\"'=1+1, Eve\",4713,,,,,12.35\n")
    assert canvas_csv(columns, PEOPLE, scores) == expected


def test_canvas_header_and_points_row_are_the_documented_ones() -> None:
    text = canvas_csv([("1.2", "1.2 L", 21.0)], PEOPLE[:1], {})
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0][:5]) == CANVAS_HEADER == (
        "Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    assert rows[1][0] == POINTS_POSSIBLE and rows[1][0].strip() == "Points Possible"
    assert rows[1][1:5] == ["", "", "", ""]


def test_moodle_file_is_moodle_export_layout() -> None:
    columns = [("1.2", "1.2 The Simplest Case"), ("2.3", "2.3 A Net")]
    scores = {(0, "1.2"): 18.5, (1, "2.3"): 7.0}
    expected = (
        "First name,Last name,ID number,Email address,1.2 The Simplest Case,2.3 A Net\n"
        "Jane,Doe,S001,jane@example.edu,18.5,\n"
        "Bo,Li,S002,Bo.Li@example.edu,,7\n"  # email exactly as given: Moodle is case-sensitive
        "Eve,'=1+1,,eve@example.edu,,\n")
    assert moodle_csv(columns, PEOPLE, scores) == expected
    assert tuple(next(csv.reader(io.StringIO(expected)))[:4]) == MOODLE_HEADER
