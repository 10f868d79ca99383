"""``loopgrader similarity``: per lesson, the class's submissions compared (see
:mod:`loopgrader.batch.similarity`), written as ``similarity/<lesson>.csv`` (every pair, most
alike first) and ``similarity/<lesson>.html`` (the table and the top pairs side by side).

Submissions are read as ``grade`` reads them (folders or zips, staged safely, the lesson's file
only); nothing is graded and no score changes.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loopgrader._fs import atomic_write_text
from loopgrader.batch.similarity import LessonSimilarity, lesson_similarity, marked_lines
from loopgrader.batch.stage import discover, safe_name, stage
from loopgrader.course.catalog import Course, Lesson
from loopgrader.errors import SubmissionError
from loopgrader.output.similarity import (
    PairRow,
    SideBySide,
    SimilaritySide,
    similarity_csv,
    similarity_html,
)

__all__ = ["SimilarityRun", "write_similarity"]


@dataclass(frozen=True)
class SimilarityRun:
    """What was written, with each lesson's most alike pair."""

    files: tuple[Path, ...]
    top: tuple[tuple[str, str, str, float], ...]  # lesson, student, student, score


def write_similarity(course: Course, submissions: Path, out: Path, lessons: list[Lesson],
                     top: int = 10) -> SimilarityRun:
    """Compare every pair of submissions per lesson; write the reports under ``out``."""
    sources: dict[str, dict[str, str]] = {lesson.id: {} for lesson in lessons}
    skipped: dict[str, list[tuple[str, str]]] = {lesson.id: [] for lesson in lessons}
    with tempfile.TemporaryDirectory(prefix="loopgrader-similarity-") as tmp:
        for submission in discover(submissions):
            folder = Path(tmp) / safe_name(submission.student)
            try:
                staged = stage(submission, lessons, folder)
            except SubmissionError as error:
                for lesson in lessons:
                    skipped[lesson.id].append((submission.student, error.message))
                continue
            for lesson in lessons:
                path = staged.files.get(lesson.id)
                if path is not None:
                    sources[lesson.id][submission.student] = path.read_text(
                        encoding="utf-8", errors="replace")
            shutil.rmtree(folder, ignore_errors=True)
    files: list[Path] = []
    best: list[tuple[str, str, str, float]] = []
    for lesson in lessons:
        stub = lesson.stub.read_text(encoding="utf-8") if lesson.stub else None
        report = lesson_similarity(lesson.id, sources[lesson.id], stub)
        files += _write(report, out, top, skipped[lesson.id])
        if report.pairs:
            pair = report.pairs[0]
            best.append((lesson.id, pair.a, pair.b, pair.score))
    return SimilarityRun(tuple(files), tuple(best))


def _write(report: LessonSimilarity, out: Path, top: int,
           skipped: list[tuple[str, str]]) -> list[Path]:
    rows = [PairRow(p.a, p.b, p.score, p.shared) for p in report.pairs]
    views = []
    for pair in report.pairs[:top]:
        a, b = report.documents[pair.a], report.documents[pair.b]
        views.append(SideBySide(pair.a, pair.b, pair.score,
                                SimilaritySide(pair.a, marked_lines(a, b)),
                                SimilaritySide(pair.b, marked_lines(b, a))))
    left_out = sorted([*skipped, *report.skipped.items()])
    csv_path = out / "similarity" / f"{report.lesson}.csv"
    html_path = out / "similarity" / f"{report.lesson}.html"
    atomic_write_text(csv_path, similarity_csv(rows))
    atomic_write_text(html_path, similarity_html(report.lesson, rows[:max(top, 50)], views,
                                                 left_out))
    return [csv_path, html_path]
