"""What is kept of grading: the one record of a graded test and lesson (``result``), a
student's attempts (``progress``), a batch's rows (``pair``) and its gradebook (SQLite).

May import only the bottom modules.
"""
