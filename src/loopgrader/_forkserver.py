"""Starts the server that forks workers; imports nothing heavy, so it can start first.

The server imports torch (through ``loopgrader.worker``) in its own process while the grader
process goes on importing torch and collecting graders: the two imports overlap.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

__all__ = ["start_worker_server"]


def start_worker_server() -> ForkServerContext:
    """Start the fork server now (it preloads torch in the background) and return its context."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["loopgrader.worker"])
    forkserver.ensure_running()
    return ctx
