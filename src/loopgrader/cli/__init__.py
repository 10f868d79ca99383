"""The command line: the click layer only, one module per command group.

This is the only package that prints or exits. Each command parses its options, forwards to a plain
function of a lower package and turns the result (or a ``LoopgraderError``) into output and an exit
code (``common``). May import every other package of loopgrader.
"""

from __future__ import annotations


def main() -> None:
    """The ``loopgrader`` console script (the command group is loaded only when it runs)."""
    from loopgrader.cli.main import main as run

    run()
