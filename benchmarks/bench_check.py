"""Wall time of `loopgrader check 1.2` on the reference, as a ratio to `import torch`.

Usage: python benchmarks/bench_check.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    loopgrader = shutil.which("loopgrader") or str(Path(sys.executable).parent / "loopgrader")
    with tempfile.TemporaryDirectory() as tmp:
        # a copy of the course, so that the attempts `check` records stay out of the checkout
        course = Path(tmp) / "course"
        shutil.copytree(REPO, course, ignore=shutil.ignore_patterns(
            ".git", ".venv", ".loopgrader", "tests", "benchmarks", "src", "docs", "*.egg-info",
            "__pycache__", "build", "dist"))
        submission = Path(tmp) / "submission" / "1.2"
        submission.mkdir(parents=True)
        shutil.copy(REPO / "graders/1.2/reference/linear_regression.py", submission)
        check = [loopgrader, "check", "1.2", "--course", str(course),
                 "--submission", str(submission.parent)]
        torch_import = [sys.executable, "-c", "import torch"]
        wall(torch_import, Path(tmp))  # warm the file cache
        checks, imports = [], []
        for _ in range(runs):
            imports.append(wall(torch_import, Path(tmp)))
            checks.append(wall(check, Path(tmp)))
    floor, total = statistics.median(imports), statistics.median(checks)
    print(f"python -c 'import torch': median {floor:.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in imports)})")
    print(f"loopgrader check 1.2:     median {total:.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in checks)})")
    print(f"ratio: {total / floor:.2f}x  (goal: <= 1.6x)")


if __name__ == "__main__":
    main()
