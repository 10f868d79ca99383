"""The messages between the grader and a worker: one request type and one reply type.

Both sides build these and turn them into plain dicts (``to_wire``) that :mod:`.wire` writes
with ``torch.save``; the other side reads them back with ``from_wire``. The worker runs student
code, which can write to the pipe, so the grader reads a reply strictly: anything that is not
exactly a reply (a field missing, added or of the wrong type) raises :class:`ProtocolError`, and
the client treats it as a worker that sent garbage. Argument and return values stay plain data
(see :func:`.wire.to_plain`); nothing here widens what ``torch.load(weights_only=True)`` rebuilds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "OPS", "ErrorInfo", "Frame", "ProtocolError", "Reply", "Request"]

OPS = ("status", "call", "probe")  # what a request asks: import status, a student call, a probe
# Why a reply is not a value: the file did not import, no such function, student code raised,
# the value could not be sent, the grader's probe is missing or broken.
KINDS = ("import", "missing", "exception", "unsendable", "probe")


class ProtocolError(ValueError):
    """A message that is not what the protocol allows (from a worker: written by student code)."""


@dataclass(frozen=True)
class Frame:
    """One line of a traceback in the worker."""

    file: str
    line: int
    function: str
    code: str

    def to_wire(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function,
                "code": self.code}

    @classmethod
    def from_wire(cls, data: object) -> Frame:
        fields = _fields(data, {"file": str, "line": int, "function": str, "code": str}, "frame")
        return cls(**fields)


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised in the worker (by student code, or while isolating it), described."""

    type: str
    message: str
    mro: tuple[str, ...] = ()
    frames: tuple[Frame, ...] = ()
    exit_code: int | None = None  # SystemExit's code when it is a number (or a bool)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "mro": list(self.mro),
                "frames": [f.to_wire() for f in self.frames], "exit_code": self.exit_code}

    @classmethod
    def from_wire(cls, data: object) -> ErrorInfo:
        fields = _fields(data, {"type": str, "message": str, "mro": list, "frames": list,
                                "exit_code": (int, bool, type(None))}, "error")
        return cls(type=fields["type"], message=fields["message"],
                   mro=tuple(_strings(fields["mro"], "error mro")),
                   frames=tuple(Frame.from_wire(f) for f in fields["frames"]),
                   exit_code=fields["exit_code"])


@dataclass(frozen=True)
class Request:
    """What the grader asks a worker: ``op`` on ``name`` with plain-data arguments."""

    op: str
    id: int
    name: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # CPU time this request may use (0: leave the budget as it is)

    def to_wire(self) -> dict[str, Any]:
        return {"op": self.op, "id": self.id, "name": self.name, "args": tuple(self.args),
                "kwargs": dict(self.kwargs), "cpu_seconds": self.cpu_seconds}

    @classmethod
    def from_wire(cls, data: object) -> Request:
        fields = _fields(data, {"op": str, "id": int, "name": str, "args": tuple,
                                "kwargs": dict, "cpu_seconds": (int, float)}, "request")
        if fields["op"] not in OPS:
            raise ProtocolError(f"unknown request {fields['op']!r}")
        return cls(**fields)


@dataclass(frozen=True)
class Reply:
    """A worker's answer to request ``id``.

    ``ok`` with a ``value`` (a call or probe) or, for ``status``, the import ``error`` if any;
    else ``kind`` (one of :data:`KINDS`) says why, with the ``error`` (``import``,
    ``exception``) or a ``message`` (``unsendable``, ``probe``). ``integrity``: the guards seen
    undone during the call (sentences), whatever the outcome.
    """

    id: int
    ok: bool
    kind: str | None = None
    value: Any = None
    error: ErrorInfo | None = None
    message: str = ""
    integrity: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "kind": self.kind, "value": self.value,
                "error": None if self.error is None else self.error.to_wire(),
                "message": self.message, "integrity": list(self.integrity)}

    @classmethod
    def from_wire(cls, data: object) -> Reply:
        fields = _fields(data, {"id": int, "ok": bool, "kind": (str, type(None)),
                                "value": object, "error": (dict, type(None)),
                                "message": str, "integrity": list}, "reply")
        kind, error = fields["kind"], fields["error"]
        if kind is not None and kind not in KINDS:
            raise ProtocolError(f"unknown reply kind {kind!r}")
        if fields["ok"] and kind is not None:
            raise ProtocolError("a reply that is ok has no failure kind")
        if kind in ("import", "exception") and error is None:
            raise ProtocolError(f"a reply of kind {kind!r} needs its error")
        return cls(id=fields["id"], ok=fields["ok"], kind=kind, value=fields["value"],
                   error=None if error is None else ErrorInfo.from_wire(error),
                   message=fields["message"],
                   integrity=tuple(_strings(fields["integrity"], "integrity")))


def _fields(data: object, types: Mapping[str, type | tuple[type, ...]],
            what: str) -> dict[str, Any]:
    """``data`` as a dict with exactly the keys of ``types``, each of its type (bool is not a
    number here)."""
    if not isinstance(data, dict):
        raise ProtocolError(f"a {what} must be a dict, not {type(data).__name__}")
    if set(data) != set(types):
        missing, extra = sorted(set(types) - set(data)), sorted(map(str, set(data) - set(types)))
        raise ProtocolError(f"a {what} with fields missing {missing} or extra {extra}")
    for key, wanted in types.items():
        value = data[key]
        allowed = wanted if isinstance(wanted, tuple) else (wanted,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed
                                              and object not in allowed):
            raise ProtocolError(f"{what} field {key!r} is a {type(value).__name__}")
    return dict(data)


def _strings(items: list[Any], what: str) -> list[str]:
    if not all(isinstance(item, str) for item in items):
        raise ProtocolError(f"{what} must hold strings only")
    return items
