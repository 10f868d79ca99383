"""Throughput of `loopgrader grade` with --jobs 1 and --jobs 2, and the per-pair overhead.

N students each submit the reference solutions of lesson 1.2 and of a second built lesson (2.3
when it is built, else 1.5). For each job count the batch is graded from scratch; reported:
wall time, pairs per minute, the graders' own test time (the durations pytest measured, summed
over pairs), and the overhead per pair beyond it, with and without the one-off start of the
grader hosts. For comparison, one pair graded the way `check` does it (a cold host).

Usage: python benchmarks/bench_batch.py [--students 8] [--rounds 2] [--isolation auto]
Goals: --jobs 2 at least 1.7x faster than --jobs 1; overhead at most 0.3 s per pair.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from loopgrader.batch.grade import BatchOptions, grade_batch
from loopgrader.course.catalog import Course, Lesson, load_course
from loopgrader.grading.runner import grade_lessons, may_build_optimizers, new_host

REPO = Path(__file__).resolve().parents[1]


def pick_lessons(course: Course) -> list[Lesson]:
    ready = {lesson.id: lesson for lesson in course.lessons if lesson.ready and lesson.file}
    second = "2.3" if "2.3" in ready and (REPO / "graders" / "2.3").is_dir() else "1.5"
    return [ready["1.2"], ready[second]]


def make_submissions(folder: Path, lessons: list[Lesson], students: int) -> None:
    for i in range(students):
        for lesson in lessons:
            assert lesson.reference is not None and lesson.file is not None
            target = folder / f"student{i:03d}" / lesson.id / lesson.file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lesson.reference, target)


def host_start_seconds(lessons: list[Lesson]) -> float:
    started = time.perf_counter()
    with new_host(optimizers=may_build_optimizers(lessons)):
        return time.perf_counter() - started


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat): the batch's workers
    are grandchildren killed with their host, so our own rusage would miss them."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        return used.ru_utime + used.ru_stime
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Clock:
    """A batch listener that notes when each student's results arrive."""

    def __init__(self) -> None:
        self.times: list[tuple[float, int]] = []

    def start(self, total: int, skipped: int) -> None:
        pass

    def advance(self, pairs: int, student: str, statuses: Counter[str]) -> None:
        self.times.append((time.perf_counter(), pairs))

    def finish(self) -> None:
        pass

    def steady_rate(self, slots: int) -> float:
        """Pairs per second once every slot has delivered its first student (no start-up)."""
        if len(self.times) <= slots:
            return 0.0
        span = self.times[-1][0] - self.times[slots - 1][0]
        return sum(p for _, p in self.times[slots:]) / span if span > 0 else 0.0


def run(course: Course, subs: Path, out: Path, jobs: int, isolation: str,
        lessons: str) -> tuple[float, float, int, str, float, float]:
    cpu = busy_cpu_seconds()
    clock = Clock()
    started = time.perf_counter()
    summary = grade_batch(course, BatchOptions(subs, out, lessons=lessons, jobs=jobs,
                                               isolation=isolation, device="cpu"), clock)
    wall = time.perf_counter() - started
    db = sqlite3.connect(out / "gradebook.sqlite")
    tests, bad = db.execute("SELECT sum(duration_s), sum(status != 'graded' OR "
                            "exercise_score < exercise_max) FROM pairs").fetchone()
    if bad:
        raise SystemExit(f"{bad} reference pairs did not get full marks: the course is broken")
    return (wall, float(tests), summary.pairs, summary.isolation, busy_cpu_seconds() - cpu,
            clock.steady_rate(jobs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of both job counts, in alternating order (medians reported)")
    args = parser.parse_args()
    course = load_course(REPO)
    lessons = pick_lessons(course)
    selector = ",".join(lesson.id for lesson in lessons)
    print(f"lessons {selector}, {args.students} students, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        make_submissions(subs, lessons, args.students)
        startup = host_start_seconds(lessons)
        print(f"grader host start-up: {startup:.2f} s (paid once per job slot)")
        started = time.perf_counter()
        single = grade_lessons(course, lessons[:1], subs / "student000", device="cpu")
        cold = time.perf_counter() - started
        print(f"one pair graded like `check` (cold host): {cold:.2f} s, of which tests "
              f"{single.results[lessons[0].id].duration_s:.2f} s")
        walls: dict[int, list[float]] = {1: [], 2: []}
        rates: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(args.rounds):
            for jobs in (1, 2) if round_ % 2 == 0 else (2, 1):
                out = Path(tmp) / f"out{round_}-{jobs}"
                wall, tests, pairs, isolation, cpu, rate = run(
                    course, subs, out, jobs, args.isolation, selector)
                walls[jobs].append(wall)
                rates[jobs].append(rate)
                overhead = (wall * jobs - tests) / pairs
                steady = (wall * jobs - startup * jobs - tests) / pairs
                print(f"--jobs {jobs}: {wall:.1f} s for {pairs} pairs = "
                      f"{pairs / wall * 60:.1f} pairs/min; tests {tests:.1f} s; overhead per "
                      f"pair {overhead:.2f} s ({steady:.2f} s without host start-up); machine "
                      f"busy {cpu:.1f} CPU s ({cpu / wall:.2f} cores on average); once started "
                      f"{rate * 60:.1f} pairs/min; isolation {isolation}")
    wall1, wall2 = statistics.median(walls[1]), statistics.median(walls[2])
    rate1, rate2 = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"speed-up --jobs 2 vs 1 (medians of {args.rounds} rounds): {wall1 / wall2:.2f}x "
          f"overall, {rate2 / rate1:.2f}x once the hosts are up (goal >= 1.7x); "
          f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
