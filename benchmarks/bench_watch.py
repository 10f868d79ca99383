"""Time from a save to the result on screen with `loopgrader watch`, against a cold
`loopgrader check` of the same lesson and file in the same run.

For each lesson (default 1.2 and 2.3, a lesson that trains) a submission holding the reference
is watched (plain output through a pipe). Each round runs one cold `check` and then saves the
file once more (an editor-like write to a temporary file and a rename, with a new comment so the
content changes) and times until the new result's last line is printed. Rounds interleave the
two, so a change in the machine's load hits both alike; the load average is printed with each.

Usage: python benchmarks/bench_watch.py [--runs 5] [--lessons 1.2,2.3]
Goal: a re-grade of 1.2 in <= 25 % of a cold check's time, and never slower than a cold check.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = {"1.2": "linear_regression.py", "2.3": "neural_net.py"}
END_OF_SCREEN = "Watching "  # the footer: the last line of each result


def loopgrader() -> str:
    return shutil.which("loopgrader") or str(Path(sys.executable).parent / "loopgrader")


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def cold_check(lesson: str, submission: Path) -> float:
    started = time.perf_counter()
    subprocess.run([loopgrader(), "check", lesson, "--course", str(REPO), "--submission",
                    str(submission)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - started


def save(path: Path, text: str) -> None:
    """As an editor saves: write a temporary file beside it, then rename it over the file."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class Watch:
    """A `loopgrader watch` process whose output lines are read by a thread, with times."""

    def __init__(self, lesson: str, submission: Path) -> None:
        self.proc = subprocess.Popen(
            [loopgrader(), "watch", lesson, "--course", str(REPO), "--submission",
             str(submission)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line))

    def until_screen(self, timeout: float = 600.0) -> float:
        """Wait for the end of the next result; the time its last line arrived."""
        deadline = time.monotonic() + timeout
        while True:
            at, line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            self.output.append(line)
            if line.startswith(END_OF_SCREEN):
                return at

    def stop(self) -> None:
        self.proc.send_signal(2)
        self.proc.wait(60)


def bench(lesson: str, runs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        submission = Path(tmp) / "submission"
        (submission / lesson).mkdir(parents=True)
        target = submission / lesson / FILES[lesson]
        reference = (REPO / "graders" / lesson / "reference" / FILES[lesson]).read_text()
        target.write_text(reference, encoding="utf-8")
        cold_check(lesson, submission)  # warm the file cache
        watch = Watch(lesson, submission)
        try:
            first_started = time.perf_counter()
            first = watch.until_screen() - first_started
            print(f"{lesson}: watch's first result {first:.2f} s (starts the host)  "
                  f"load {load()}")
            colds, saves = [], []
            for run in range(runs):
                colds.append(cold_check(lesson, submission))
                time.sleep(0.5)
                started = time.perf_counter()
                save(target, f"{reference}\n# save {run}\n")
                saves.append(watch.until_screen() - started)
                print(f"{lesson}: round {run + 1}: cold check {colds[-1]:.2f} s, "
                      f"save -> result {saves[-1]:.2f} s  load {load()}")
        finally:
            watch.stop()
        if not any("Score:" in line for line in watch.output):
            sys.exit(f"{lesson}: watch printed no score:\n{''.join(watch.output[-30:])}")
    return statistics.median(colds), statistics.median(saves)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lessons", default="1.2,2.3")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average (1/5/15 min) {load()}")
    for lesson in args.lessons.split(","):
        cold, regrade = bench(lesson, args.runs)
        goal = " (goal: <= 25 %)" if lesson == "1.2" else " (goal: < 100 %)"
        print(f"{lesson}: median cold check {cold:.2f} s, median save -> result {regrade:.2f} s: "
              f"{100 * regrade / cold:.0f} % of a cold check{goal}")


if __name__ == "__main__":
    main()
