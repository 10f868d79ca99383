"""Render time of the progress report over 22 lessons with 1,000 recorded attempts.

Usage: python benchmarks/bench_report.py   (goal: well under 1 s for every format)
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loopgrader.course.catalog import load_course
from loopgrader.output.report import build_report
from loopgrader.output.report_render import FORMATS, render_report
from loopgrader.records.progress import Attempt, load_progress, record_attempt
from loopgrader.records.result import LessonResult, TestResult

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        shutil.copy(REPO / "course.yaml", root)
        course = load_course(root)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for i in range(1000):
            lesson = rng.choice(course.lessons)
            score = float(rng.randint(0, 20))
            curves = {"t": {"loss": {"student": [rng.random() for _ in range(50)],
                                     "reference": [rng.random() for _ in range(50)]}}}
            result = LessonResult(
                lesson.id, "attempted", score, 20.0,
                tuple(TestResult(f"t{k}", 1.0, 1.0, True) for k in range(12)),
                timings={"train": rng.uniform(0.8, 2.0)}, curves=curves)
            record_attempt(root, Attempt(rng.choice(["exercise", "quiz"]), result,
                                         (start + timedelta(minutes=i)).isoformat()))
        for fmt in FORMATS:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                render_report(build_report(course, load_progress(root)), fmt)
                times.append(time.perf_counter() - started)
            print(f"{fmt:>8}: median {statistics.median(times) * 1000:.0f} ms "
                  "(load 1,000 attempt files + build + render)")


if __name__ == "__main__":
    main()
