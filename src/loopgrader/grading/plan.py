"""The run plan: what the grader process is asked to grade, handed over as a small JSON file.

The CLI writes it; the pytest plugin reads it. It holds absolute paths and settings only, so
nothing in a submission can configure the grader run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loopgrader.sandbox.limits import Limits

__all__ = ["LessonPlan", "RunPlan"]


@dataclass(frozen=True)
class LessonPlan:
    """One lesson to grade: where its graders, reference and the student's file are."""

    lesson: str
    graders_dir: str
    student_file: str | None  # None when the submission has no such file
    reference_file: str | None
    probe_files: tuple[str, ...] = ()
    load_error: str | None = None  # the student's notebook could not be read (the message)


@dataclass(frozen=True)
class RunPlan:
    """Everything the grader process needs to know."""

    lessons: dict[str, LessonPlan]
    device: str = "auto"
    limits: Limits = field(default_factory=Limits)  # of every student's worker
    extras: dict[str, str] = field(default_factory=dict)
    isolation: str = "limits"  # see loopgrader.sandbox.isolation.LEVELS
    hidden_paths: tuple[str, ...] = ()  # covered in every worker (isolation "namespaces")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunPlan:
        data = json.loads(path.read_text(encoding="utf-8"))
        lessons = {
            key: LessonPlan(**{**value, "probe_files": tuple(value.get("probe_files", ()))})
            for key, value in data["lessons"].items()
        }
        return cls(lessons=lessons, device=data["device"],
                   limits=Limits.from_dict(dict(data.get("limits", {}))),
                   extras=dict(data.get("extras", {})),
                   isolation=str(data.get("isolation", "limits")),
                   hidden_paths=tuple(str(p) for p in data.get("hidden_paths", ())))

    def lesson_for(self, test_path: Path) -> LessonPlan | None:
        """The lesson whose graders folder holds ``test_path``."""
        for lesson in self.lessons.values():
            if Path(lesson.graders_dir) in test_path.parents:
                return lesson
        return None
