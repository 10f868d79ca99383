"""The instructor's CSV files (roster, extensions, submission manifest): read with line numbers,
refused as a whole with one paragraph naming the file, the line and the fix.

UTF-8 with or without a byte-order mark (what spreadsheets save); header names are matched
case-insensitively with spaces and dashes read as underscores; unknown columns are ignored
(LMS exports carry many).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from loopgrader.errors import UsageError

__all__ = ["Row", "input_error", "read_table"]


@dataclass(frozen=True)
class Row:
    """One data row: its line in the file and its cells by normalised column name."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()


def input_error(path: Path, line: int | None, problem: str, fix: str) -> UsageError:
    """The one-paragraph error for a bad input file (exit 2): nothing has been graded or
    written yet when it is raised."""
    where = f"{path}, line {line}" if line else str(path)
    return UsageError(f"{where}: {problem}", hint=f"{fix}; nothing was graded or changed")


def read_table(path: Path, *, required: tuple[str, ...], what: str,
               any_of: tuple[str, ...] = ()) -> list[Row]:
    """The rows of ``path`` (a ``what`` file) having every ``required`` column and at least
    one of ``any_of`` (when given)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise input_error(path, None, f"cannot read the {what}: {exc.strerror or exc}",
                          "check the path") from None
    except UnicodeDecodeError:
        raise input_error(path, None, f"the {what} is not UTF-8 text",
                          "save it as CSV UTF-8 from your spreadsheet") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [_column(name) for name in next(reader, [])]
        rows = [Row(reader.line_num, dict(zip(header, cells, strict=False)))
                for cells in reader if any(cell.strip() for cell in cells)]
    except csv.Error as exc:
        raise input_error(path, reader.line_num, f"the {what} is not valid CSV ({exc})",
                          "save it again as CSV from your spreadsheet") from None
    columns = ", ".join(required + ((" or ".join(any_of),) if any_of else ()))
    missing = [name for name in required if name not in header]
    if missing or (any_of and not set(any_of) & set(header)):
        raise input_error(path, 1, f"the {what} lacks the column(s) "
                          f"{', '.join(missing) or ' or '.join(any_of)} (header: "
                          f"{', '.join(header) or 'empty'})",
                          f"the first line must name the columns: {columns}")
    return rows


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")
