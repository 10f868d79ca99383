"""Starts the server that forks workers; imports nothing heavy, so it can start first.

The server imports torch (through ``loopgrader.sandbox.worker``) in its own process while the grader
process goes on importing torch and collecting graders: the two imports overlap. It is started
with the scrubbed environment workers get (``isolation.worker_environment``), so not even its
memory holds the grader's other variables.

A grader run forked from a grader host (``loopgrader.sandbox.host``) inherits the host's server and
uses it as it is: no second server, no second torch import.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext
from typing import Any

from loopgrader.sandbox.isolation import worker_environment

__all__ = ["OPTIMIZER_PRELOAD", "PRELOAD", "start_worker_server"]

# torch.optim's constructors import torch._dynamo (1-2 s): when the lessons may build optimizers,
# the server imports it once and every worker inherits it.
PRELOAD = ["loopgrader.sandbox.worker"]
OPTIMIZER_PRELOAD = ["torch._dynamo"]


def start_worker_server(optimizers: bool = True) -> ForkServerContext:
    """Start the fork server now (it preloads torch in the background) and return its context;
    ``optimizers``: also preload what torch.optim needs (a one-off 1-2 s, in the background)."""
    ctx = multiprocessing.get_context("forkserver")
    server: Any = forkserver._forkserver  # private state: which server, started by whom
    if server._forkserver_pid is not None and _inherited(server):
        _adopt(server, server._forkserver_pid)
        return ctx
    ctx.set_forkserver_preload(PRELOAD + (OPTIMIZER_PRELOAD if optimizers else []))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(worker_environment(saved))
    try:
        forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return ctx


def _inherited(server: Any) -> bool:
    """True if a live server was started by another process (not a child of this one).

    A dead server is forgotten, so that a new one starts.
    """
    pid = int(server._forkserver_pid)
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0 if _exists(pid) else pid
        if not done:
            return True
    if done:
        with contextlib.suppress(OSError):
            os.close(server._forkserver_alive_fd)
        server._forkserver_pid = server._forkserver_alive_fd = None
        server._forkserver_address = None
    return False


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _adopt(server: Any, pid: int) -> None:
    """Use a server started by the process this one was forked from."""

    def ensure_running() -> None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise RuntimeError("the worker server of this grader host has stopped") from None

    server.ensure_running = ensure_running
