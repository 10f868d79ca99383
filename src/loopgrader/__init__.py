"""loopgrader: the autograder and quiz system for "Learn the Training Loop with PyTorch"."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loopgrader")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext loopgrader`` in Jupyter: registers ``%loopgrader check LESSON``."""
    from loopgrader.notebook import load_ipython_extension as load

    load(ipython)
