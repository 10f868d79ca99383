"""Grading a class: finding and staging submissions (folders, zips), grading them into the
gradebook, the rows' status rules, and the exports rebuilt from the gradebook.

May import output, grading, course, quiz, records, sandbox and the bottom modules.
"""
