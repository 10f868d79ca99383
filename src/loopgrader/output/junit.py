"""JUnit XML for CI systems (the only module that knows the format): a suite per lesson.

The document satisfies both the Ant JUnit schema (windyroad/JUnit-Schema, the strictest: every
suite has ``id``, ``package``, ``timestamp`` and ``hostname``, then ``properties``, the test
cases, ``system-out`` and ``system-err``; every case has a ``time``; every failure a ``type``)
and Jenkins' ``junit-10.xsd``. tests/test_junit.py validates it against both (fetched by
.ci/junit-schemas).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from loopgrader.grading.check import CheckReport, LessonCheck

__all__ = ["check_junit"]


def _failure(case: ET.Element, kind: str, message: str, detail: str) -> None:
    element = ET.SubElement(case, "failure", message=message, type=kind)
    element.text = detail


def _suite(check: LessonCheck, index: int, timestamp: str, hostname: str) -> ET.Element:
    lesson = check.lesson
    suite = ET.Element("testsuite", name=f"lesson {lesson.id} — {lesson.title}",
                       package=f"lesson-{lesson.id}", id=str(index), timestamp=timestamp,
                       hostname=hostname)
    properties = ET.SubElement(suite, "properties")
    if check.exercise is not None:
        ET.SubElement(properties, "property", name="device", value=check.exercise.device)
        ET.SubElement(properties, "property", name="status", value=check.exercise.status)
    cases = failures = 0
    duration = check.exercise.duration_s if check.exercise else 0.0
    for test in check.exercise.tests if check.exercise else ():
        case = ET.SubElement(suite, "testcase", classname=f"lesson-{lesson.id}", name=test.name,
                             time=f"{test.duration_s:.3f}")
        cases += 1
        if not test.passed:
            failures += 1
            detail = "\n".join(x for x in (test.message, test.hint and f"hint: {test.hint}") if x)
            _failure(case, test.category or "failed",
                     (test.message or "failed").splitlines()[0], detail)
    if check.quiz is not None:
        case = ET.SubElement(suite, "testcase", classname=f"lesson-{lesson.id}", name="quiz",
                             time="0.000")
        cases += 1
        if not check.quiz.passed:
            failures += 1
            kind = "quiz_problem" if check.quiz.problem else (
                "quiz_failed" if check.quiz.result else "quiz_not_answered")
            detail = check.quiz.problem or (
                f"quiz score {check.quiz.score:g}/{check.quiz_max:g}" if check.quiz.result
                else f"not answered yet: run `loopgrader quiz {lesson.id}`")
            _failure(case, kind, detail, detail)
    ET.SubElement(suite, "system-out")
    ET.SubElement(suite, "system-err")
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("time", f"{duration:.3f}")
    return suite


def check_junit(report: CheckReport, *, now: datetime | None = None,
                hostname: str | None = None) -> str:
    """The report as a JUnit XML document (timestamps in UTC, without a zone, as Ant writes)."""
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    timestamp = when.strftime("%Y-%m-%dT%H:%M:%S")
    host = hostname or socket.gethostname() or "localhost"
    root = ET.Element("testsuites")
    for index, check in enumerate(report.checks):
        root.append(_suite(check, index, timestamp, host))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
