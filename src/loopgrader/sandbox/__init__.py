"""Where student code runs and how it is cut off: the grader-side client (``client``), the worker,
the wire protocol (``messages``: requests and replies; ``wire``: plain data as bytes), the warm
grader host, the fork server, the limits student code runs under (``limits``) and the isolation
levels.

May import checks (for ``GradingFailure``), probes and the bottom modules only.
"""
