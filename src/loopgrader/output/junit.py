"""JUnit XML for CI systems (the only module that knows the format): a suite per lesson."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loopgrader.grading.check import CheckReport, LessonCheck

__all__ = ["check_junit"]


def _suite(check: LessonCheck) -> ET.Element:
    suite = ET.Element("testsuite", name=f"lesson {check.lesson.id} — {check.lesson.title}")
    cases = failures = 0
    duration = check.exercise.duration_s if check.exercise else 0.0
    for test in check.exercise.tests if check.exercise else ():
        case = ET.SubElement(suite, "testcase", classname=f"lesson-{check.lesson.id}",
                             name=test.name)
        cases += 1
        if not test.passed:
            failures += 1
            failure = ET.SubElement(case, "failure",
                                    message=(test.message or "failed").splitlines()[0])
            failure.text = "\n".join(x for x in (test.message, test.hint and
                                                 f"hint: {test.hint}") if x)
    if check.quiz is not None:
        case = ET.SubElement(suite, "testcase", classname=f"lesson-{check.lesson.id}",
                             name="quiz")
        cases += 1
        if not check.quiz.passed:
            failures += 1
            detail = check.quiz.problem or (
                f"quiz score {check.quiz.score:g}/{check.quiz_max:g}" if check.quiz.result
                else f"not answered yet: run `loopgrader quiz {check.lesson.id}`")
            ET.SubElement(case, "failure", message=detail).text = detail
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("time", f"{duration:.3f}")
    return suite


def check_junit(report: CheckReport) -> str:
    """The report as a JUnit XML document."""
    root = ET.Element("testsuites", name="loopgrader", time=f"{report.duration_s:.3f}")
    for check in report.checks:
        root.append(_suite(check))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
