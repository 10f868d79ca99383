"""The course: its manifest (``course.yaml``), its lessons, and where each lesson's files are.

Conventions: a lesson's stub is ``exercises/<id>/<file>``, its graders ``graders/<id>/`` (tests
``test_*.py``, worker-side helpers ``probes.py``, reference ``reference/<file>``), its quiz
``quizzes/<id>.yaml``. The manifest names what differs per lesson.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from loopgrader.course.calendar import ManifestLoader
from loopgrader.errors import CourseError, UsageError

__all__ = [
    "MANIFEST",
    "Course",
    "Lesson",
    "find_course_root",
    "load_course",
    "select_lessons",
]

MANIFEST = "course.yaml"
ENV_COURSE = "LOOPGRADER_COURSE"
LESSON_ID = re.compile(r"^[1-9]\d*\.[1-9]\d*$")
LESSON_KEYS = {"id", "title", "file", "points", "quiz", "status"}
STATUSES = ("ready", "planned")


@dataclass(frozen=True)
class Lesson:
    """One lesson of the course, with paths resolved against the course root."""

    id: str
    module: int
    title: str
    file: str | None  # the student's file name; None for quiz-only lessons
    points: float  # the exercise's points (sum of its grader tests)
    quiz: Path | None
    status: str
    root: Path

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def graders_dir(self) -> Path:
        return self.root / "graders" / self.id

    @property
    def stub(self) -> Path | None:
        return None if self.file is None else self.root / "exercises" / self.id / self.file

    @property
    def reference(self) -> Path | None:
        return None if self.file is None else self.graders_dir / "reference" / self.file

    @property
    def probes(self) -> tuple[Path, ...]:
        path = self.graders_dir / "probes.py"
        return (path,) if path.is_file() else ()

    def submitted_file(self, submission_root: Path) -> Path | None:
        return None if self.file is None else submission_root / self.id / self.file


@dataclass(frozen=True)
class Course:
    """The whole course as the manifest describes it."""

    root: Path
    title: str
    modules: dict[int, str]
    lessons: tuple[Lesson, ...]

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def lesson(self, lesson_id: str) -> Lesson:
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        raise UsageError(f"unknown lesson {lesson_id!r}; valid lessons: "
                         f"{', '.join(item.id for item in self.lessons)}")


def find_course_root(start: Path, explicit: Path | None = None) -> Path:
    """The course root: ``explicit``, else $LOOPGRADER_COURSE, else walk up from ``start``."""
    given = explicit or (Path(os.environ[ENV_COURSE]) if os.environ.get(ENV_COURSE) else None)
    if given is not None:
        if not (given / MANIFEST).is_file():
            raise UsageError(f"{given}: no {MANIFEST} here, so this is not a loopgrader course",
                             hint="point --course (or LOOPGRADER_COURSE) at the course folder")
        return given.resolve()
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / MANIFEST).is_file():
            return folder
    raise UsageError(f"no {MANIFEST} found in {start.resolve()} or any folder above it",
                     hint="run loopgrader inside the course folder, or pass --course DIR")


def load_course(root: Path) -> Course:
    """Read and validate the manifest; every problem is reported at once as a CourseError."""
    path = root / MANIFEST
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=ManifestLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise CourseError(f"{path}: cannot read the course manifest: {exc}") from None
    problems: list[str] = []
    course = _parse_course(root, data, problems.append)
    if problems:
        raise CourseError("the course manifest has problems:\n" + "\n".join(problems),
                          hint=f"fix {path} and run `loopgrader validate` again")
    return course


def _parse_course(root: Path, data: Any, problem: Callable[[str], None]) -> Course:
    where = root / MANIFEST
    if not isinstance(data, dict):
        problem(f"{where}: top level: expected a mapping, got {type(data).__name__}")
        return Course(root, "", {}, ())
    modules = data.get("modules")
    if not isinstance(modules, dict) or not all(isinstance(k, int) for k in modules):
        problem(f"{where}: modules: expected a mapping of module number to title, got {modules!r}")
        modules = {}
    lessons: list[Lesson] = []
    for index, raw in enumerate(data.get("lessons") or []):
        lesson = _parse_lesson(root, raw, f"{where}: lessons[{index}]", set(modules), problem)
        if lesson is not None:
            lessons.append(lesson)
    ids = [lesson.id for lesson in lessons]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problem(f"{where}: lessons: id {dup!r} appears more than once")
    if not lessons:
        problem(f"{where}: lessons: expected a list of lessons, got none")
    return Course(root, str(data.get("title", "")), {int(k): str(v) for k, v in modules.items()},
                  tuple(lessons))


def _parse_lesson(root: Path, raw: Any, where: str, modules: set[int],
                  problem: Callable[[str], None]) -> Lesson | None:
    if not isinstance(raw, dict):
        problem(f"{where}: expected a mapping with id, title, ..., got {raw!r}")
        return None
    for key in sorted(set(raw) - LESSON_KEYS):
        problem(f"{where}: {key}: unknown key; expected one of {', '.join(sorted(LESSON_KEYS))}")
    lesson_id = raw.get("id", "")
    if not isinstance(lesson_id, str) or not LESSON_ID.match(lesson_id):
        problem(f"{where}: id: expected a lesson id like '1.2' (quoted), got {raw.get('id')!r}")
        return None
    module = int(lesson_id.split(".")[0])
    if module not in modules:
        problem(f"{where} ({lesson_id}): module {module} is not listed under modules")
    status = str(raw.get("status", "ready"))
    if status not in STATUSES:
        problem(f"{where} ({lesson_id}): status: expected one of {STATUSES}, got {status!r}")
    points = raw.get("points", 0)
    if not isinstance(points, (int, float)) or points < 0:
        problem(f"{where} ({lesson_id}): points: expected a number >= 0, got {points!r}")
        points = 0
    file = raw.get("file")
    if file is not None and (not isinstance(file, str) or "/" in file or not file.endswith(".py")):
        problem(f"{where} ({lesson_id}): file: expected a file name like 'x.py', got {file!r}")
        file = None
    quiz = raw.get("quiz")
    return Lesson(id=lesson_id, module=module, title=str(raw.get("title", "")), file=file,
                  points=float(points), quiz=root / str(quiz) if quiz else None, status=status,
                  root=root)


def select_lessons(course: Course, selector: str) -> list[Lesson]:
    """``1.2`` (one lesson), ``1`` (a module) or ``all``."""
    if selector == "all":
        return list(course.lessons)
    if selector.isdigit():
        chosen = [lesson for lesson in course.lessons if lesson.module == int(selector)]
        if not chosen:
            raise UsageError(f"unknown module {selector!r}; modules: "
                             f"{', '.join(str(m) for m in sorted(course.modules))}")
        return chosen
    return [course.lesson(selector)]


def select_many(course: Course, selectors: list[str] | tuple[str, ...]) -> list[Lesson]:
    """Several selectors (``1.2 1.3``, ``1 3.1``): their lessons once each, in course order."""
    chosen = {lesson.id for selector in selectors for lesson in select_lessons(course, selector)}
    return [lesson for lesson in course.lessons if lesson.id in chosen]
