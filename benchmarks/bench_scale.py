"""How far one machine goes, and N machines: grade a synthetic, deterministic class, then
measure a merge and an export at MOOC size, and project the wall time of a 10,000-student class.

1. Grading: S students × the built lessons (each file is the reference, an alternative, a
   mutant, the stub or missing, picked by a hash of the name: tests/scale_harness.py), graded
   with `--jobs` = the cores. Reported: wall time, seconds per (student, lesson) per core, the
   graders' own test time per lesson, gradebook bytes per pair.
2. Merge at scale: gradebook rows for --mooc-students students are synthesised from the graded
   rows (renamed copies, with their tests) into --merge-shards shard gradebooks, as `grade
   --shard K/N` would write them; then `merge` (all checks included) and the exports are timed.
3. Stragglers: the measured per-student costs, cycled over the MOOC class, are split into N
   shards (the real hash split) and scheduled on W machines (each takes the next shard when
   free): the makespan for few and for many shards.
4. Projection: 1, 10 and 100 machines like this one for --mooc-students × --mooc-lessons.

Usage: python benchmarks/bench_scale.py [--students 200] [--lessons all] [--jobs N]
       [--mooc-students 10000] [--mooc-lessons 20] [--merge-shards 64]
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from loopgrader.batch.exports import export_gradebook
from loopgrader.batch.grade import BatchOptions, grade_batch, in_shard
from loopgrader.batch.merge import merge_gradebooks
from loopgrader.batch.provenance import graders_fingerprints
from loopgrader.course.catalog import Course, load_course
from loopgrader.records.gradebook import FILE_NAME, PairRecord, RunSource, open_gradebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from scale_harness import gradable_lessons, student_name, synthetic_class  # noqa: E402

HOST_START_S = 2.3  # a grader host's start (bench_batch.py), paid once per slot per shard


def grade_class(course: Course, subs: Path, out: Path, lessons: str, jobs: int
                ) -> tuple[float, list[PairRecord]]:
    started = time.perf_counter()
    summary = grade_batch(course, BatchOptions(subs, out, lessons=lessons, jobs=jobs,
                                               device="cpu"))
    wall = time.perf_counter() - started
    with open_gradebook(out, create=False) as book:
        pairs = book.pairs()
    print(f"graded {summary.students} students × {summary.pairs // max(summary.students, 1)} "
          f"lessons = {summary.pairs} pairs in {wall:.1f} s with --jobs {jobs} "
          f"(isolation {summary.isolation}); statuses: "
          f"{', '.join(f'{n} {s}' for s, n in sorted(summary.statuses.items()))}")
    return wall, pairs


def report_lessons(pairs: list[PairRecord], kinds: dict[tuple[str, str], str]) -> None:
    by_lesson: dict[str, list[PairRecord]] = defaultdict(list)
    for pair in pairs:
        by_lesson[pair.lesson].append(pair)
    print("\n| lesson | pairs | graders' test time per graded pair (s) | full marks: reference "
          "+ alternatives | mutants that lost points |")
    print("| --- | --- | --- | --- | --- |")
    for lesson, found in sorted(by_lesson.items(), key=lambda i: [int(x) for x in
                                                                   i[0].split(".")]):
        graded = [p.duration_s for p in found if p.status not in ("not submitted",
                                                                   "not started")]
        good = [p for p in found if kinds[(p.student, lesson)] in ("reference", "alternative")]
        bad = [p for p in found if kinds[(p.student, lesson)] == "mutant"]
        full = sum(p.exercise_score >= p.exercise_max for p in good)
        lost = sum(p.exercise_score < p.exercise_max for p in bad)
        mean = statistics.mean(graded) if graded else 0.0
        print(f"| {lesson} | {len(found)} | {mean:.2f} | {full}/{len(good)} | "
              f"{lost}/{len(bad)} |")


def shard_of(student: str, shards: int) -> int:
    """The K that ``in_shard`` accepts, computed directly (checked against it)."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    k = int.from_bytes(digest[:8], "big") % shards + 1
    assert in_shard(student, (k, shards))
    return k


def synthesise_shards(course: Course, template: list[PairRecord], students: int, shards: int,
                      folder: Path) -> list[Path]:
    """Shard gradebooks for ``students`` students, rows copied from ``template``."""
    by_student: dict[str, list[PairRecord]] = defaultdict(list)
    for pair in template:
        by_student[pair.student].append(pair)
    models = [by_student[name] for name in sorted(by_student)]
    graders = graders_fingerprints(course)
    books = {k: open_gradebook(folder / f"shard-{k}") for k in range(1, shards + 1)}
    runs = {k: book.start_run(f"loopgrader grade subs --shard {k}/{shards}", f"{k}/{shards}",
                              "namespaces", RunSource("slurm", f"slurm job 1 task {k}", "node",
                                                      graders))
            for k, book in books.items()}
    pending: dict[int, list[PairRecord]] = defaultdict(list)
    for index in range(students):
        name = student_name(index)
        k = shard_of(name, shards)
        pending[k] += [replace(p, student=name) for p in models[index % len(models)]]
        if len(pending[k]) >= 2000:
            books[k].record(pending.pop(k), runs[k])
    for k, rows in pending.items():
        books[k].record(rows, runs[k])
    for k, book in books.items():
        book.finish_run(runs[k])
        book.close()
    return [folder / f"shard-{k}" for k in range(1, shards + 1)]


def student_costs(pairs: list[PairRecord], overhead: float) -> list[float]:
    """CPU seconds each graded student cost: its graders' time plus the per-pair overhead."""
    cost: dict[str, float] = defaultdict(float)
    for pair in pairs:
        cost[pair.student] += pair.duration_s + overhead
    return [cost[name] for name in sorted(cost)]


def makespan(costs: list[float], students: int, shards: int, machines: int,
             cores: int, slow: float = 1.0) -> float:
    """Wall time of ``students`` (costs cycled) in ``shards`` on ``machines`` of ``cores``;
    the first machine runs ``slow`` times slower (a straggler node)."""
    load = [0.0] * shards
    for index in range(students):
        name = student_name(index)
        load[shard_of(name, shards) - 1] += costs[index % len(costs)]
    free = [(0.0, m) for m in range(machines)]
    heapq.heapify(free)
    for work in load:  # in shard order, each to the machine free first, as an array does
        start, machine = heapq.heappop(free)
        pace = slow if machine == 0 else 1.0
        heapq.heappush(free, (start + (HOST_START_S + work / cores) * pace, machine))
    return max(end for end, _ in free)


def mooc_gradebook(course: Course, pairs: list[PairRecord], args: argparse.Namespace,
                   root: Path) -> tuple[float, float]:
    """Synthesise the MOOC's shard gradebooks, merge and export them; the two times."""
    started = time.perf_counter()
    folders = synthesise_shards(course, pairs, args.mooc_students, args.merge_shards,
                                root / "mooc")
    made = time.perf_counter() - started
    started = time.perf_counter()
    summary = merge_gradebooks(course, root / "class", folders)
    merge_s = time.perf_counter() - started
    merged = (root / "class" / FILE_NAME).stat().st_size
    started = time.perf_counter()
    files = export_gradebook(course, root / "class")
    export_s = time.perf_counter() - started
    rows = sqlite3.connect(root / "class" / FILE_NAME).execute(
        "SELECT (SELECT count(*) FROM pairs), (SELECT count(*) FROM tests)").fetchone()
    print(f"\nMOOC gradebook: {summary.students} students, {rows[0]} pairs, {rows[1]} tests "
          f"in {args.merge_shards} shards (synthesised in {made:.1f} s); merge "
          f"{merge_s:.1f} s; gradebook {merged / 2**20:.0f} MiB; export {export_s:.1f} s "
          f"({len(files)} files)")
    return merge_s, export_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--lessons", default="all")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mooc-students", type=int, default=10_000)
    parser.add_argument("--mooc-lessons", type=int, default=20)
    parser.add_argument("--merge-shards", type=int, default=64)
    parser.add_argument("--no-mooc", action="store_true",
                        help="skip synthesising, merging and exporting the MOOC gradebook")
    args = parser.parse_args()
    course = load_course(REPO)
    lessons = gradable_lessons(course, args.lessons)
    cores = args.jobs
    print(f"{args.students} students × {len(lessons)} lessons, --jobs {cores}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        kinds = synthetic_class(course, lessons, args.students, root / "subs")
        print(f"synthetic class: {dict(Counter(kinds.values()))}")
        wall, pairs = grade_class(course, root / "subs", root / "out",
                                  ",".join(lesson.id for lesson in lessons), cores)
        per_pair_core = wall * cores / len(pairs)
        tests = sum(p.duration_s for p in pairs)
        overhead = max(0.0, (wall * cores - tests) / len(pairs))
        size = (root / "out" / FILE_NAME).stat().st_size
        print(f"seconds per (student, lesson) per core: {per_pair_core:.2f} "
              f"(graders' tests {tests / len(pairs):.2f}, the rest {overhead:.2f}); "
              f"gradebook {size / 1024:.0f} KiB = {size / len(pairs) / 1024:.1f} KiB per pair")
        report_lessons(pairs, kinds)

        merge_s = export_s = 0.0
        if not args.no_mooc:
            merge_s, export_s = mooc_gradebook(course, pairs, args, root)

        costs = student_costs(pairs, overhead)
        print("\nstragglers: the class in N shards on 4 machines of this size (simulated "
              "from the measured per-student costs)")
        print("| shards | makespan (h) | over ideal | one machine at half speed (h) | over "
              "its ideal |")
        print("| --- | --- | --- | --- | --- |")
        total = sum(costs[i % len(costs)] for i in range(args.mooc_students)) / cores
        ideal, ideal_slow = total / 4, total / 3.5  # 3 machines + one at half speed
        for shards in (4, 16, 64, 256):
            span = makespan(costs, args.mooc_students, shards, 4, cores)
            slow = makespan(costs, args.mooc_students, shards, 4, cores, slow=2.0)
            print(f"| {shards} | {span / 3600:.2f} | {(span / ideal - 1) * 100:.0f}% | "
                  f"{slow / 3600:.2f} | {(slow / ideal_slow - 1) * 100:.0f}% |")

        scale = args.mooc_lessons / len(lessons)
        print(f"\nprojection: {args.mooc_students} students × {args.mooc_lessons} lessons "
              f"(per-student cost × {scale:.2f} for the lesson count), machines of {cores} "
              f"cores, 16 shards per machine")
        print("| machines | grading (h) | merge + export (min) | total (h) |")
        print("| --- | --- | --- | --- |")
        scaled = [c * scale for c in costs]
        for machines in (1, 10, 100):
            span = makespan(scaled, args.mooc_students, 16 * machines, machines, cores)
            tail = (merge_s + export_s) * args.mooc_lessons / len(lessons)
            print(f"| {machines} | {span / 3600:.2f} | {tail / 60:.1f} | "
                  f"{(span + tail) / 3600:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
