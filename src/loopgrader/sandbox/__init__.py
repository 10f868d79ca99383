"""Where student code runs and how it is cut off: the grader-side client (``client``), the worker,
the wire protocol, the warm grader host, the fork server, limits and isolation levels.

May import checks (for ``GradingFailure``), probes and the bottom modules only.
"""
