"""What is kept of grading: a student's attempts (``progress``) and a batch's gradebook (SQLite).

May import only the bottom modules.
"""
