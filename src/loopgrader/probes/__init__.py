"""What runs in the worker beside student code: guards, loop tracing, device helpers.

Grader-authored probes import from here. May import only the bottom modules (and torch).
"""
