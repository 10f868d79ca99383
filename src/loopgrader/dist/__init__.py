"""Distribution: the students' build (with hidden tests stripped) and the Gradescope bundle, plus
the entry point that runs inside Gradescope (``gradescope_run``).

May import output, grading, course, quiz, records and the bottom modules.
"""
