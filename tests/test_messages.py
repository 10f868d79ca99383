"""The messages between the grader and a worker: typed both ways, and read strictly by the grader.

Student code runs in the worker and can write to the pipe; whatever it writes that is not
exactly a reply to the pending request must end that worker with the same clean failure (a
StudentCrash, "sent back something that is not a result"), and the next call gets a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from loopgrader.checks.failures import StudentCrash
from loopgrader.sandbox import wire as _wire
from loopgrader.sandbox.client import StudentProcess
from loopgrader.sandbox.forkserver import start_worker_server
from loopgrader.sandbox.isolation import SandboxSpec, detect_isolation
from loopgrader.sandbox.messages import ErrorInfo, Frame, ProtocolError, Reply, Request

GOOD = Reply(2, True, value=3).to_wire()
ERROR = ErrorInfo("ValueError", "bad", ("ValueError", "Exception"),
                  (Frame("student.py", 3, "f", "raise ValueError('bad')"),)).to_wire()


def through_the_pipe(message: dict[str, Any]) -> object:
    return _wire.decode(_wire.encode(message))


def test_request_and_reply_round_trip_as_plain_data() -> None:
    request = Request("call", 7, "predict", (torch.ones(2), [1, 2]), {"lr": 0.1}, 65.0)
    back = Request.from_wire(through_the_pipe(request.to_wire()))
    assert (back.op, back.id, back.name, back.kwargs, back.cpu_seconds) == \
        ("call", 7, "predict", {"lr": 0.1}, 65.0)
    assert torch.equal(back.args[0], torch.ones(2)) and back.args[1] == [1, 2]
    reply = Reply(7, False, "exception", error=ErrorInfo.from_wire(ERROR),
                  integrity=("torch.manual_seed was replaced",))
    assert Reply.from_wire(through_the_pipe(reply.to_wire())) == reply


def test_a_status_reply_carries_the_import_error() -> None:
    reply = Reply(1, False, error=ErrorInfo("SyntaxError", "invalid syntax"))
    back = Reply.from_wire(through_the_pipe(reply.to_wire()))
    assert back.error is not None and back.error.type == "SyntaxError" and not back.ok


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


MALFORMED = {
    "not a dict": [GOOD],
    "missing ok": without("ok"),
    "missing id": without("id"),
    "an extra field": {**GOOD, "score": 1.0},
    "id of the wrong type": {**GOOD, "id": "2"},
    "a bool for the id": {**GOOD, "id": True},
    "ok of the wrong type": {**GOOD, "ok": 1},
    "an unknown kind": {**GOOD, "ok": False, "kind": "passed"},
    "ok with a failure kind": {**GOOD, "kind": "exception", "error": ERROR},
    "an exception without its error": {**GOOD, "ok": False, "kind": "exception"},
    "an error missing its frames": {**GOOD, "ok": False, "kind": "exception",
                                    "error": {k: v for k, v in ERROR.items() if k != "frames"}},
    "a frame line that is text": {**GOOD, "ok": False, "kind": "exception",
                                  "error": {**ERROR, "frames": [{**ERROR["frames"][0],
                                                                 "line": "3"}]}},
    "integrity that is not sentences": {**GOOD, "integrity": [1]},
    "a message that is not text": {**GOOD, "ok": False, "kind": "unsendable", "message": None},
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_reply_is_refused(case: str) -> None:
    with pytest.raises(ProtocolError):
        Reply.from_wire(through_the_pipe(MALFORMED[case]))


FORGER = '''
import io, os, stat, struct, time
import torch

def forge(message, raw=None):
    """Write a message of our own to the pipe, where the worker's reply should be."""
    if raw is None:
        buffer = io.BytesIO()
        torch.save(message, buffer)
        raw = buffer.getvalue()
    else:
        raw = bytes(raw)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, struct.pack("!i", len(raw)) + raw)
        except OSError:
            pass
    time.sleep(0.2)
    return "forged"

def add(a, b):
    return a + b
'''


LEVELS = ["limits", *(["namespaces"] if detect_isolation() == "namespaces" else [])]


@pytest.fixture(scope="module", params=LEVELS)
def forger(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudentProcess]:
    path: Path = tmp_path_factory.mktemp("forger") / "forger.py"
    path.write_text(FORGER, encoding="utf-8")
    process = StudentProcess(start_worker_server(optimizers=False), path,
                             sandbox=SandboxSpec(request.param))
    yield process
    process.close()


HOSTILE = {
    **{case: MALFORMED[case] for case in ("missing ok", "an extra field", "ok of the wrong type",
                                          "an exception without its error",
                                          "a frame line that is text")},
    "another request's id": {**GOOD, "id": 999},
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_reply_forged_by_student_code_ends_the_worker_cleanly(forger: StudentProcess,
                                                                case: str) -> None:
    assert forger.import_error() is None
    with pytest.raises(StudentCrash, match="sent back something that is not a result"):
        forger.call("forge", HOSTILE[case])
    assert forger.call("add", 2, 3) == 5  # a fresh worker answers the next call


def test_bytes_that_are_not_plain_data_end_the_worker_cleanly(forger: StudentProcess) -> None:
    with pytest.raises(StudentCrash, match="sent back something that is not a result"):
        forger.call("forge", None, list(b"\x80\x04not a pickle at all"))
    assert forger.call("add", 1, 1) == 2
