"""Worker isolation: what a sandboxed worker can and cannot reach, and the process cleanup.

The namespace tests fork a child that isolates itself exactly as a worker does and reports what
it could do; they run where the ``namespaces`` level is available (Linux, root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loopgrader.sandbox import seccomp
from loopgrader.sandbox.isolation import (
    UID_BASE,
    Limits,
    SandboxSpec,
    _python_paths,
    detect_isolation,
    enter_sandbox,
    hidden_paths,
    kill_uid,
    slot_cpus,
    sweep_descendants,
    worker_environment,
)

LEVEL = detect_isolation()
needs_namespaces = pytest.mark.skipif(LEVEL != "namespaces",
                                      reason="the namespaces level needs Linux and root")


def test_worker_environment_keeps_only_what_running_python_needs() -> None:
    env = worker_environment({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "t",
                              "LOOPGRADER_COURSE": "/c", "HOME": "/root", "LANG": "C.UTF-8"})
    assert env["PATH"] == "/bin" and env["LOOPGRADER_COURSE"] == "/c"
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GITHUB_TOKEN" not in env
    assert "HOME" not in env and env["OMP_NUM_THREADS"] == "1"


def test_hidden_paths_spare_what_python_needs(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for name in ("graders", "quizzes", "src/pkg", "venv/lib"):
        (course / name).mkdir(parents=True)
    (course / "course.yaml").write_text("x")
    hidden = hidden_paths([course, tmp_path / "missing"], keep=[course / "src"])
    assert set(hidden) == {str(course / "graders"), str(course / "quizzes"),
                           str(course / "venv"), str(course / "course.yaml")}


def test_limits_round_trip_and_reject_unknown_levels() -> None:
    limits = Limits(cpu_seconds=5, memory_bytes=1 << 30)
    assert Limits.from_dict({**limits.to_dict(), "unknown": 1}) == limits
    with pytest.raises(ValueError, match="isolation must be"):
        detect_isolation("docker")
    assert detect_isolation("limits") == "limits"


def in_sandbox(scratch: Path, spec: SandboxSpec, probe: Callable[[], dict[str, object]]
               ) -> dict[str, object]:
    """Fork, isolate the child as a worker is isolated, run ``probe`` there, return its report."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            enter_sandbox(spec, scratch, keep_fds=(write,))
            report = probe()
        except BaseException as exc:
            report = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return dict(json.loads(data))


def _attempt(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return type(exc).__name__
    return "allowed"


@needs_namespaces
def test_a_sandboxed_worker_reaches_only_its_scratch_folder(tmp_path: Path) -> None:
    secret = tmp_path / "graders"
    secret.mkdir()
    (secret / "reference.py").write_text("ANSWER = 42\n")
    scratch = Path(tempfile.mkdtemp(prefix="loopgrader-test-scratch-"))
    outside = Path(__file__).resolve().parent / "isolation-probe.txt"
    mounts_before = Path("/proc/self/mountinfo").read_text()

    def probe() -> dict[str, object]:
        (scratch / "mine.txt").write_text("ok")
        connect = socket.socket()
        connect.settimeout(2)
        return {
            "uid": os.getuid(),
            "reference": _attempt(lambda: (secret / "reference.py").read_text()),
            "write_outside": _attempt(lambda: outside.write_text("x")),
            "write_real_tmp": _attempt(lambda: (tmp_path / "x").write_text("x")),
            "network": _attempt(lambda: connect.connect(("1.1.1.1", 80))),
            "kill_init": _attempt(lambda: os.kill(1, signal.SIGTERM)),
            "import_stdlib": _attempt(lambda: __import__("sqlite3")),
            "fd_limit": __import__("resource").getrlimit(__import__("resource").RLIMIT_NPROC)[0],
        }

    try:
        report = in_sandbox(scratch, SandboxSpec("namespaces", Limits(processes=32),
                                                 hidden=(str(secret),)), probe)
        wrote = (scratch / "mine.txt").read_text()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert "error" not in report, report
    assert int(str(report["uid"])) >= UID_BASE
    assert report["reference"] in ("FileNotFoundError", "PermissionError")
    # refused, or not even there (the checkout may sit in /tmp, which the worker sees privately)
    assert report["write_outside"] in ("PermissionError", "OSError", "FileNotFoundError")
    assert report["write_real_tmp"] != "allowed" and report["network"] != "allowed"
    assert report["kill_init"] == "PermissionError"
    assert report["import_stdlib"] == "allowed"
    assert report["fd_limit"] == 32
    assert wrote == "ok"  # the real scratch folder was written
    assert not outside.exists() and not (tmp_path / "x").exists()
    assert Path("/proc/self/mountinfo").read_text() == mounts_before  # the host is untouched


@needs_namespaces
def test_python_folders_inside_tmp_stay_importable_and_nothing_else_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI runner may keep the virtual environment in /tmp, which workers get a private copy
    of: Python's own folders are bound back into it, and only they."""
    base = Path(tempfile.mkdtemp(prefix="loopgrader-test-venv-"))
    scratch = Path(tempfile.mkdtemp(prefix="loopgrader-test-scratch-"))
    try:
        (base / "site" / "lg_probe_pkg").mkdir(parents=True)
        (base / "site" / "lg_probe_pkg" / "__init__.py").write_text("VALUE = 7\n")
        (base / "secret.txt").write_text("not for workers")
        monkeypatch.syspath_prepend(str(base / "site"))

        def probe() -> dict[str, object]:
            import importlib

            return {"value": importlib.import_module("lg_probe_pkg").VALUE,
                    "secret": _attempt(lambda: (base / "secret.txt").read_text())}

        report = in_sandbox(scratch, SandboxSpec("namespaces"), probe)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    assert report == {"value": 7, "secret": "FileNotFoundError"}, report


@needs_namespaces
def test_kill_uid_reaches_processes_that_left_their_group() -> None:
    uid = UID_BASE - 12_345  # below every worker uid (UID_BASE + pid): never a live worker
    child = subprocess.Popen(["sleep", "60"], user=uid, start_new_session=True)
    try:
        assert kill_uid(uid) >= 1
        assert child.wait(10) == -signal.SIGKILL
    finally:
        child.kill()


def test_sweep_descendants_kills_a_process_tree_but_spares_what_it_is_told() -> None:
    script = ("import subprocess, sys, time\n"
              "for _ in range(2):\n"
              "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              "print('ready', flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        children = [int(p) for p in _children(parent.pid, 2)]
        assert sweep_descendants(parent.pid, keep=children[:1]) == 1
        deadline = time.monotonic() + 5
        while _running(children[1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(children[1]) and _running(children[0])
        assert parent.poll() is None  # the root itself is never killed
    finally:
        sweep_descendants(parent.pid)
        parent.kill()
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()


def _children(pid: int, count: int) -> list[str]:
    deadline = time.monotonic() + 10
    found: list[str] = []
    while len(found) < count and time.monotonic() < deadline:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        time.sleep(0.05)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_seccomp_denies_what_no_lesson_needs_and_keeps_threads_fork_and_torch() -> None:
    if not seccomp.supported() or not sys.platform.startswith("linux"):
        pytest.skip("no seccomp table for this machine")
    script = (
        "import ctypes, json, os, threading, torch\n"
        "from loopgrader.sandbox import seccomp\n"
        "seccomp.install()\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def errno(result):\n"
        "    return ctypes.get_errno() if result != 0 else 0\n"
        "out = {'ptrace': errno(libc.ptrace(16, os.getppid(), 0, 0)),\n"
        "       'unshare': errno(libc.unshare(0x10000000)),\n"
        "       'mount': errno(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)),\n"
        "       'bpf': errno(libc.syscall(321 if os.uname().machine == 'x86_64' else 280,\n"
        "                                 0, 0, 0))}\n"
        "box = []\n"
        "t = threading.Thread(target=lambda: box.append(torch.ones(3).sum().item()))\n"
        "t.start(); t.join()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(7)\n"
        "out['thread'] = box[0]\n"
        "out['fork'] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
        "print(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {k: out[k] for k in ("ptrace", "unshare", "mount", "bpf")} == \
        {"ptrace": 1, "unshare": 1, "mount": 1, "bpf": 1}  # EPERM each
    assert out["thread"] == 3.0 and out["fork"] == 7


def test_job_slots_get_disjoint_cpus() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    assert slot_cpus(1) == [()]
    slots = slot_cpus(2)
    assert len(slots) == 2 and all(slots)
    if len(cpus) >= 2:
        assert not set(slots[0]) & set(slots[1])
    assert all(set(s) <= set(cpus) for s in slot_cpus(len(cpus) + 3))


def test_sweep_kills_a_zombie_leader_whose_threads_still_run() -> None:
    """A process whose main thread exited shows state Z while its other threads run on."""
    name = f"lgz{os.getpid() % 100000}"
    leader = ("import ctypes, os, platform, threading, time\n"
              "libc = ctypes.CDLL(None)\n"
              f"threading.Thread(target=lambda: (libc.prctl(15, b'{name}', 0, 0, 0), "
              "time.sleep(60))).start()\n"
              "time.sleep(0.2)\n"
              "libc.syscall(60 if platform.machine() == 'x86_64' else 93, 0)\n")
    script = ("import subprocess, sys, time\n"
              f"subprocess.Popen([sys.executable, '-c', {leader!r}])\n"
              "print('ready', flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 10
        while not _zombie_leaders(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _zombie_leaders(name), "the attack did not leave a zombie leader"
        assert sweep_descendants(parent.pid) >= 1
        deadline = time.monotonic() + 5
        while _named(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _named(name)
    finally:
        parent.kill()
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()


def _named(name: str) -> list[Path]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/task/[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == name:
                found.append(comm)
    return found


def _zombie_leaders(name: str) -> list[int]:
    pids = {int(p.parts[2]) for p in _named(name)}
    return [pid for pid in pids if _state(pid) == "Z"]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


@needs_namespaces
def test_a_jailed_worker_sees_only_the_allow_list(tmp_path: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="loopgrader-test-scratch-"))

    def probe() -> dict[str, object]:
        return {"root": sorted(os.listdir("/")), "pids": sorted(
                    p for p in os.listdir("/proc") if p.isdigit()),
                "tmp": sorted(os.listdir("/tmp")), "python": os.path.isdir(sys.prefix),
                "etc": sorted(os.listdir("/etc")),
                "homes": {top: sorted(os.listdir(f"/{top}")) for top in ("root", "work")
                          if os.path.isdir(f"/{top}")}}

    try:
        report = in_sandbox(scratch, SandboxSpec("namespaces"), probe)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert "error" not in report, report
    root = set(report["root"])  # type: ignore[arg-type]
    assert not root & {"home", "opt", "srv", "mnt", "media", "boot"}
    # /root or /work exist only as the way to Python's own folders (a venv, pyenv, src/)
    python = [Path(p).parts for p in _python_paths()]
    for top, names in dict(report["homes"]).items():  # type: ignore[call-overload]
        assert set(names) <= {p[2] for p in python if len(p) > 2 and p[1] == top}, (top, names)
    assert {"usr", "tmp", "dev", "proc", "etc"} <= root
    assert report["pids"] == ["1", "2"]  # its init and itself
    # /tmp holds the scratch folder, and Python's own folders where they live in /tmp (a CI
    # runner's venv), bound back read-only
    in_tmp = {p[2] for p in python if len(p) > 2 and p[1] == "tmp"}
    assert scratch.name in report["tmp"], report["tmp"]  # type: ignore[operator]
    assert set(report["tmp"]) - {scratch.name} <= in_tmp, report["tmp"]  # type: ignore[arg-type]
    assert report["python"] is True
    assert "shadow" not in report["etc"]  # type: ignore[operator]


def test_a_memory_file_carries_the_report_without_a_path(tmp_path: Path) -> None:
    from loopgrader.sandbox import memfile

    handle = memfile.create("report", str(tmp_path), '{"plan": 1}')
    assert json.loads(Path(memfile.path(handle)).read_text()) == {"plan": 1}
    Path(memfile.path(handle)).write_text('{"tests": []}')  # as pytest-json-report writes it
    assert memfile.read_json(handle) == {"tests": []}
    if isinstance(handle, int):
        assert list(tmp_path.iterdir()) == []  # nothing on disk
