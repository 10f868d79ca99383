"""The class roster: who each submission belongs to, in the identities an LMS knows.

A CSV with a ``student`` column (the submission's folder or archive name, as ``grade`` sees
it) and any of ``name`` (or ``first_name`` and ``last_name``), ``email``, ``lms_id`` (Canvas's
numeric user ID, Moodle's user id), ``sis_id`` (the SIS user ID / Moodle's ID number),
``sis_login_id`` and ``section``. Duplicate students, emails and ids are refused: two rows with
one identity would send one grade to two people. :func:`match_roster` lists submissions with no
roster entry and roster entries with no submission, so that nobody is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loopgrader.batch.tables import Row, input_error, read_table

__all__ = ["Person", "Roster", "RosterMatch", "load_roster", "match_roster"]

UNIQUE = ("student", "email", "lms_id", "sis_id", "sis_login_id")


@dataclass(frozen=True)
class Person:
    """One roster entry."""

    student: str  # the submission's name
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_id: str = ""
    sis_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) \
            or self.student

    @property
    def sortable_name(self) -> str:
        """``Last, First`` as Canvas writes student names (the name as given when the roster
        has a single ``name`` column)."""
        if self.first_name and self.last_name:
            return f"{self.last_name}, {self.first_name}"
        return self.name


@dataclass(frozen=True)
class Roster:
    """Everyone on the roster, by submission name."""

    people: dict[str, Person]

    def get(self, student: str) -> Person:
        """The roster entry, or a bare one named after the submission."""
        return self.people.get(student) or Person(student=student)


@dataclass(frozen=True)
class RosterMatch:
    """Both ways a roster and a class's submissions can disagree."""

    without_roster: tuple[str, ...]  # submissions nobody on the roster owns
    without_submission: tuple[Person, ...]  # roster entries with no submission

    @property
    def clean(self) -> bool:
        return not self.without_roster and not self.without_submission

    def lines(self) -> list[str]:
        found = []
        if self.without_roster:
            found.append(f"{len(self.without_roster)} submission(s) not on the roster: "
                         f"{', '.join(self.without_roster)}")
        if self.without_submission:
            names = ", ".join(f"{p.student} ({p.name})" if p.name != p.student else p.student
                              for p in self.without_submission)
            found.append(f"{len(self.without_submission)} roster entr(y/ies) without a "
                         f"submission: {names}")
        return found


def load_roster(path: Path) -> Roster:
    """Read and check the roster CSV (UsageError naming file, line and fix on bad input)."""
    rows = read_table(path, required=("student",), what="roster")
    people: dict[str, Person] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        person = _person(path, row)
        for key in UNIQUE:
            value = getattr(person, key)
            if not value:
                continue
            folded = value.casefold() if key == "email" else value
            if (key, folded) in seen:
                raise input_error(path, row.line, f"{key} {value!r} is on line "
                                  f"{seen[key, folded]} already",
                                  "give each person one row and unique ids")
            seen[key, folded] = row.line
        people[person.student] = person
    return Roster(people)


def _person(path: Path, row: Row) -> Person:
    student = row.get("student")
    if not student:
        raise input_error(path, row.line, "the student cell is empty",
                          "write the submission's folder or archive name (without .zip)")
    first, last = row.get("first_name"), row.get("last_name")
    if not (first or last):
        first = row.get("name")
    return Person(student=student, first_name=first, last_name=last, email=row.get("email"),
                  lms_id=row.get("lms_id"), sis_id=row.get("sis_id"),
                  sis_login_id=row.get("sis_login_id"), section=row.get("section"))


def match_roster(roster: Roster, submissions: Iterable[str]) -> RosterMatch:
    """Submissions without a roster entry, and roster entries without a submission."""
    names = set(submissions)
    return RosterMatch(
        without_roster=tuple(sorted(names - set(roster.people))),
        without_submission=tuple(roster.people[s] for s in sorted(set(roster.people) - names)))
