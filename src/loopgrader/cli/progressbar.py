"""Progress of a batch: a bar with counts and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections import Counter
from typing import TextIO

__all__ = ["PlainLines", "TerminalBar", "make_listener"]

WIDTH = 28


class _Base:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0
        self.fresh = 0  # pairs finished by this run (for the rate)
        self.statuses: Counter[str] = Counter()
        self.started = time.monotonic()

    def start(self, total: int, skipped: int) -> None:
        self.total, self.done, self.started = total, skipped, time.monotonic()
        self._show("")

    def advance(self, pairs: int, student: str, statuses: Counter[str]) -> None:
        self.done += pairs
        self.fresh += pairs
        self.statuses.update(statuses)
        self._show(student)

    def finish(self) -> None:
        pass

    def eta(self) -> str:
        if not self.fresh or self.done >= self.total:
            return "--:--"
        seconds = (time.monotonic() - self.started) / self.fresh * (self.total - self.done)
        minutes, secs = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"

    def counts(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))

    def _show(self, student: str) -> None:
        raise NotImplementedError


class TerminalBar(_Base):
    """One line redrawn in place."""

    def _show(self, student: str) -> None:
        filled = int(WIDTH * self.done / self.total) if self.total else WIDTH
        bar = "█" * filled + "░" * (WIDTH - filled)
        line = f"\r{bar} {self.done}/{self.total} pairs · ETA {self.eta()}"
        if self.statuses:
            line += f" · {self.counts()}"
        self.stream.write(line[:160].ljust(100))
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class PlainLines(_Base):
    """A line per student graded (logs, CI)."""

    def _show(self, student: str) -> None:
        what = f"graded {student}" if student else "starting"
        self.stream.write(f"[{self.done}/{self.total} pairs] {what} · ETA {self.eta()}\n")
        self.stream.flush()


def make_listener(stream: TextIO) -> _Base:
    """A bar when ``stream`` is a terminal, plain lines otherwise."""
    is_tty = getattr(stream, "isatty", lambda: False)()
    return TerminalBar(stream) if is_tty else PlainLines(stream)
