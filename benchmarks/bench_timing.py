"""Is the timing verdict stable on this machine? And what does loop tracing cost?

The reference training (full-batch linear regression with torch.optim.SGD) is timed against
itself 20 times (every verdict must pass) and against a variant doing 10x the work (every verdict
must fail), through the real path: two forked workers, interleaved, median of ratios.

Usage: python benchmarks/bench_timing.py [--trials 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from loopgrader.checks.timing import time_against_reference
from loopgrader.grading.plugin import StudentModule
from loopgrader.probes.trace import record_loop
from loopgrader.sandbox.client import StudentProcess
from loopgrader.sandbox.forkserver import start_worker_server

TRAIN = '''
import torch

def train(X, y, epochs=REPEAT * 300):
    model = torch.nn.Linear(X.shape[1], 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), y)
        loss.backward()
        opt.step()
    return float(loss)
'''
PROBE = '''
def timed_train(student, X, y):
    return student.train(X, y)
'''


def write(folder: Path, name: str, repeat: int) -> Path:
    path = folder / name
    path.write_text(TRAIN.replace("REPEAT", str(repeat)))
    return path


def verdicts(ctx: object, student: Path, reference: Path, probes: Path, trials: int,
             X: torch.Tensor, y: torch.Tensor) -> list[float]:
    ratios = []
    for _ in range(trials):
        stu = StudentProcess(ctx, student, (probes,))  # type: ignore[arg-type]
        ref = StudentProcess(ctx, reference, (probes,))  # type: ignore[arg-type]
        verdict = time_against_reference(StudentModule(stu), StudentModule(ref), "timed_train",
                                          X, y, device="cpu", allowed=3.0)
        ratios.append(verdict.ratio if not verdict.stopped_early else float("inf"))
        stu.close()
        ref.close()
    return ratios


def tracing_overhead(X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    def run() -> None:
        model = torch.nn.Linear(X.shape[1], 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(300):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(X), y).backward()
            opt.step()

    plain, traced = [], []
    for _ in range(7):
        started = time.perf_counter()
        run()
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        with record_loop():
            run()
        traced.append(time.perf_counter() - started)
    return statistics.median(plain), statistics.median(traced)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    trials = parser.parse_args().trials
    ctx = start_worker_server()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(256, 8, generator=g), torch.randn(256, 1, generator=g)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        probes = folder / "probes.py"
        probes.write_text(PROBE)
        reference, slow = write(folder, "ref.py", 1), write(folder, "slow.py", 10)
        same = verdicts(ctx, reference, reference, probes, trials, X, y)
        tenfold = verdicts(ctx, slow, reference, probes, trials, X, y)
    passed = sum(r <= 3.0 for r in same)
    failed = sum(r > 3.0 for r in tenfold)
    print(f"reference vs itself: {passed}/{trials} passed; ratio median "
          f"{statistics.median(same):.3f}, min {min(same):.3f}, max {max(same):.3f}")
    finite = [r for r in tenfold if r != float("inf")]
    print(f"10x slower variant:  {failed}/{trials} failed; stopped early in "
          f"{trials - len(finite)}/{trials}")
    plain, traced = tracing_overhead(X, y)
    print(f"loop tracing: 300 iterations {plain * 1000:.1f} ms plain, {traced * 1000:.1f} ms "
          f"traced ({(traced / plain - 1) * 100:+.0f}%, {(traced - plain) / 300 * 1e6:.0f} us "
          "per iteration)")


if __name__ == "__main__":
    main()
