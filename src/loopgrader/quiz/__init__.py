"""Quizzes: the model, parsing and validation (``loader``), answer normalisation and digests
(``format``), hashed student copies, scoring, and the answers file and interactive session.

May import records and the bottom modules.
"""
