"""Every format a result is shown or handed out in: terminal text and Gradescope-style JSON
(``text``), JUnit XML, GitHub annotations, the progress report and its charts, and the jinja2
templates.

May import grading, course, quiz, records and the bottom modules.
"""
