"""``loopgrader build student OUT``: the starter repository handed to students.

It holds the engine, the stubs, the public graders (hidden tests and every reference solution
stripped), the quizzes with hashed answers, stub fingerprints for ``--only-started``, a student
README and a CI workflow. The course's own tests (mutants are reference solutions with one bug)
never ship.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from loopgrader.course.authoring import imports_any, private_modules
from loopgrader.course.calendar import ManifestLoader
from loopgrader.course.catalog import MANIFEST, Course, load_course
from loopgrader.course.notebook_stub import stub_code_fingerprint, stub_notebook_text
from loopgrader.course.stubs import STUBS_FILE, fingerprint
from loopgrader.dist.strip import strip_hidden
from loopgrader.errors import CourseError, UsageError
from loopgrader.grading.runner import collect_points
from loopgrader.grading.validate import validate_course
from loopgrader.quiz.hashing import hash_quiz_file

__all__ = ["BuildResult", "build_student", "check_output_folder", "engine_source"]

SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".loopgrader")
WORKFLOW = Path(".github") / "workflows" / "loopgrader.yml"


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, and the public points per lesson."""

    out: Path
    points: dict[str, float]
    stripped: dict[str, list[str]]


def check_output_folder(out: Path) -> None:
    """OUT must not exist yet, or be an empty folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} already exists and is not an empty folder",
                         hint="choose a new folder (builds never overwrite anything)")


def engine_source(course: Course) -> Path:
    """The loopgrader package to ship: the course's src/loopgrader, else the installed one."""
    local = course.root / "src" / "loopgrader"
    return local if local.is_dir() else Path(__file__).resolve().parents[1]


def _validated(course_root: Path) -> Course:
    course = load_course(course_root)
    problems = validate_course(course)
    if problems:
        raise CourseError("the course does not validate:\n" + "\n".join(problems),
                          hint="run `loopgrader validate` and fix what it reports first")
    for name in ("pyproject.toml", "constraints.txt"):
        if not (course.root / name).is_file():
            raise CourseError(f"{course.root / name}: missing; a student build needs it to "
                              "install loopgrader")
    return course


def _copy_graders(course: Course, out: Path) -> dict[str, list[str]]:
    stripped: dict[str, list[str]] = {}
    for lesson in course.lessons:
        if not lesson.ready or not lesson.graders_dir.is_dir():
            continue
        target = out / "graders" / lesson.id
        target.mkdir(parents=True)
        private = private_modules(lesson.graders_dir)
        for path in sorted(lesson.graders_dir.glob("*.py")):
            if path.stem in private:
                continue
            if path.name.startswith("test_") and imports_any(path.read_text("utf-8"), private):
                stripped[f"{lesson.id}/{path.name}"] = ["the whole file (instructor-only helpers)"]
            elif path.name.startswith("test_"):
                public, removed = strip_hidden(path.read_text(encoding="utf-8"))
                stripped[f"{lesson.id}/{path.name}"] = removed
                if public is not None:
                    (target / path.name).write_text(public, encoding="utf-8")
            else:
                shutil.copy2(path, target / path.name)
    return stripped


def _copy_content(course: Course, out: Path, secret: bytes,
                  notebooks: bool = False) -> dict[str, str]:
    stubs: dict[str, str] = {}
    for lesson in course.lessons:
        if lesson.stub is not None and lesson.stub.is_file():
            target = out / "exercises" / lesson.id / lesson.stub.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lesson.stub, target)
            stubs[lesson.id] = fingerprint(lesson.stub)
            if notebooks:  # generated from the .py stub, which stays the single source
                text = lesson.stub.read_text(encoding="utf-8")
                target.with_suffix(".ipynb").write_text(stub_notebook_text(text, lesson.id),
                                                        encoding="utf-8")
                stubs[f"{lesson.id}.ipynb"] = stub_code_fingerprint(text, lesson.id)
        if lesson.quiz is not None and lesson.quiz.is_file():
            target = out / lesson.quiz.relative_to(course.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            hash_quiz_file(lesson.quiz, target, secret=secret)
    return stubs


def _write_manifest(course: Course, out: Path) -> dict[str, float]:
    data = yaml.load((course.root / MANIFEST).read_text(encoding="utf-8"), Loader=ManifestLoader)
    (out / MANIFEST).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                encoding="utf-8")
    public = load_course(out.resolve())
    ready = [lesson for lesson in public.lessons if lesson.ready and lesson.file
             and lesson.graders_dir.is_dir() and any(lesson.graders_dir.glob("test_*.py"))]
    points = collect_points(public, ready) if ready else {}
    for entry in data["lessons"]:
        if entry.get("file") and entry.get("status", "ready") == "ready":
            entry["points"] = points.get(entry["id"], 0)  # 0: no public test left
    (out / MANIFEST).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                encoding="utf-8")
    return points


def _write_docs(course: Course, out: Path) -> None:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loopgrader.output", "templates"),
                             autoescape=False, keep_trailing_newline=True)
    readme = env.get_template("student_README.md.j2").render(title=course.title,
                                                             lessons=course.lessons)
    (out / "README.md").write_text(readme, encoding="utf-8")
    (out / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
    (out / WORKFLOW).write_text(env.get_template("loopgrader.yml").render(), encoding="utf-8")
    (out / ".gitignore").write_text(".venv/\n__pycache__/\n*.egg-info/\n.loopgrader/\n",
                                    encoding="utf-8")


def build_student(course_root: Path, out: Path, *, secret: bytes | None = None,
                  notebooks: bool = False) -> BuildResult:
    """Write the students' starter repository into ``out`` (new or empty); with ``notebooks``,
    a notebook version of every stub beside it (docs/notebooks.md)."""
    check_output_folder(out)
    course = _validated(course_root)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(engine_source(course), out / "src" / "loopgrader", ignore=SKIP)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy2(course.root / name, out / name)
    stubs = _copy_content(course, out, secret or os.urandom(32), notebooks)
    stripped = _copy_graders(course, out)
    (out / STUBS_FILE).write_text(json.dumps(stubs, indent=1, sort_keys=True), encoding="utf-8")
    _write_docs(course, out)
    points = _write_manifest(course, out)
    return BuildResult(out, points, stripped)
