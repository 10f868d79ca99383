"""Grading one submission: the run plan, the grader run under pytest (the plugin, trusted side),
reading its results, ``check`` and ``validate``.

May import course, quiz, records, sandbox, checks, probes and the bottom modules; never cli,
batch, output or dist.
"""
