"""The course manifest: finding the course, reading it, selecting lessons."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgrader.course.catalog import find_course_root, load_course, select_lessons
from loopgrader.errors import CourseError, UsageError

REPO = Path(__file__).resolve().parents[1]


def test_the_bundled_course_lists_all_22_lessons() -> None:
    course = load_course(REPO)
    ids = [lesson.id for lesson in course.lessons]
    assert len(ids) == 22
    assert ids[:6] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]
    assert [lesson.id for lesson in course.lessons if lesson.file is None] == ["1.6", "2.7"]
    assert all(lesson.quiz is not None for lesson in course.lessons)


def test_course_root_is_found_walking_up(tmp_path: Path) -> None:
    (tmp_path / "course.yaml").write_text("modules: {1: A}\nlessons: []\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_course_root(deep) == tmp_path.resolve()


def test_course_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "course.yaml").write_text("x: 1\n")
    monkeypatch.setenv("LOOPGRADER_COURSE", str(tmp_path))
    assert find_course_root(Path("/")) == tmp_path.resolve()


def test_no_course_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no course\.yaml found"):
        find_course_root(tmp_path)


def test_every_manifest_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "course.yaml").write_text(
        "modules: {1: A}\nlessons:\n"
        "  - {id: '1.1', title: x, file: a/b.py, points: -1, status: soon}\n"
        "  - {id: '2.1', title: y}\n  - {id: '2.1', title: z}\n")
    with pytest.raises(CourseError) as info:
        load_course(tmp_path)
    text = info.value.message
    assert "file: expected a file name like 'x.py', got 'a/b.py'" in text
    assert "points: expected a number >= 0, got -1" in text
    assert "status: expected one of ('ready', 'planned'), got 'soon'" in text
    assert "module 2 is not listed under modules" in text
    assert "id '2.1' appears more than once" in text


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "course.yaml").write_text("lessons: [\n")
    with pytest.raises(CourseError, match="cannot read the course manifest"):
        load_course(tmp_path)


def test_select_lessons() -> None:
    course = load_course(REPO)
    assert select_lessons(course, "2")[0].id == "2.1"
    assert len(select_lessons(course, "all")) == 22
    with pytest.raises(UsageError, match="unknown module '7'"):
        select_lessons(course, "7")
