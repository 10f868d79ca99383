"""The course as authored: the manifest (``course.yaml``), its lessons, their files, and which
files are still the shipped stub.

May import only ``loopgrader.errors``, ``loopgrader.status`` and ``loopgrader._fs``.
"""
