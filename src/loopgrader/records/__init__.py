"""What is kept of grading: the one record of a graded test and lesson (``result``), a
student's attempts (``progress``) and a batch's gradebook (SQLite).

May import only the bottom modules.
"""
