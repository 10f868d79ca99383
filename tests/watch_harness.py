"""Drives `loopgrader watch` in tests: through pipes (plain output) or in a tmux terminal."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MAIN = "import sys\nfrom loopgrader.cli.main import main\nsys.argv[0] = 'loopgrader'\nmain()\n"
FOOTER = "Watching "  # the last line of each result
GOOD = (FIXTURES / "submissions" / "good" / "1.1" / "calc.py").read_text()
WRONG = "def add(a, b):\n    return a - b\n\n\ndef scale(a, k):\n    return a * k\n"


def watch_command(*args: str) -> list[str]:
    return [sys.executable, "-c", MAIN, "watch", *args]


def editor_save(path: Path, text: str) -> None:
    """Save as vim does: a probe file, a backup by rename, the new file, its mode, cleanup."""
    probe = path.with_name("4913")
    probe.write_text("")
    probe.unlink()
    backup = path.with_name(path.name + "~")
    if path.exists():
        os.replace(path, backup)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    if backup.exists():
        backup.unlink()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class PlainWatch:
    """`loopgrader watch` with its output in a pipe; results are read screen by screen."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(watch_command(*args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.transcript: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def screen(self, timeout: float = 180.0) -> str:
        """The next whole result (up to and with its footer line)."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no result in time; so far:\n" + "".join(
                    self.transcript + lines)) from None
            if line is None:
                raise AssertionError("watch ended; output:\n" + "".join(self.transcript + lines)
                                     + self._stderr())
            lines.append(line)
            if line.startswith(FOOTER):
                self.transcript += lines
                return "".join(lines)

    def wait_line(self, text: str, timeout: float = 60.0) -> str:
        """Read up to the first line holding ``text`` (it counts toward no screen)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{text!r} was never printed") from None
            if line is None:
                raise AssertionError(f"watch ended before printing {text!r}")
            self.transcript.append(line)
            if text in line:
                return line

    def quiet_for(self, seconds: float) -> list[str]:
        """Lines printed within ``seconds`` (to show nothing else was graded)."""
        found: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            found.append(line)
        return found

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        return self.proc.returncode, self._stderr()

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def kill(self) -> None:
        """End the watch if it still runs, and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self._reader.join(30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Tmux:
    """A tmux server of its own running one command in a window of a known size."""

    def __init__(self, command: list[str], cwd: Path, *, width: int = 110,
                 height: int = 40) -> None:
        self.socket = f"loopgrader-test-{uuid.uuid4().hex[:8]}"
        script = " ".join(_quote(part) for part in command) + "; echo EXIT=$?; sleep 600"
        self._tmux("new-session", "-d", "-s", "w", "-x", str(width), "-y", str(height),
                   "-c", str(cwd), script)

    def _tmux(self, *args: str) -> str:
        tmux = shutil.which("tmux")
        assert tmux is not None
        return subprocess.run([tmux, "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def pane(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "w")

    def pane_pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "w", "#{pane_pid}").strip())

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "w", *keys)

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        pane = ""
        while time.monotonic() < deadline:
            pane = self.pane()
            if text in pane:
                return pane
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the screen:\n{pane}")

    def close(self) -> None:
        subprocess.run([shutil.which("tmux") or "tmux", "-L", self.socket, "kill-server"],
                       capture_output=True, check=False, timeout=30)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"
