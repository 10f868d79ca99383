"""Students' copies of quizzes: keys replaced by salted HMAC-SHA256 digests.

This keeps the answers out of plain sight in the YAML handed to students, nothing more: anyone
with the file can still try every choice letter (or every number with the stated decimals)
against the digests in seconds. Quizzes that count are scored by the instructor with the key.

:func:`hash_quiz_text` is pure: the same quiz text and secret always give the same copy. Each
question gets its own salt, derived from the secret, the lesson and the question id; each
accepted answer is hashed in its normal form (see :mod:`loopgrader.quiz.format`), so grading a
hashed copy accepts exactly what grading the original accepts. Explanations are stored base64
encoded (so they do not give the answer away at a glance) and the code that computes a key is
dropped; the code of a "what does this code print" question stays, since it is the question.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from loopgrader._fs import atomic_write_text
from loopgrader.errors import CourseError
from loopgrader.quiz.format import answer_digest, dump_yaml, load_yaml
from loopgrader.quiz.loader import Question, parse_quiz

__all__ = ["hash_quiz_file", "hash_quiz_text", "question_salt"]

_HEADER = (
    "# Students' copy: the answers are stored as salted hashes (HMAC-SHA256) so that they do\n"
    "# not show. This stops casual peeking, not a determined student; see docs/quizzes.md.\n"
)


def question_salt(secret: bytes, lesson: str, question_id: str) -> str:
    """The salt of one question (32 hex digits), derived from ``secret``."""
    message = f"{lesson}:{question_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def hash_quiz_text(text: str, *, secret: bytes, source: str = "<quiz>") -> str:
    """The hashed students' copy of quiz YAML ``text``; questions already hashed are kept.

    Raises :class:`CourseError` if ``text`` is not a valid quiz. ``secret`` should be random
    (``os.urandom(32)``) and kept with the instructor; it only makes salts unpredictable.
    """
    if not secret:
        raise ValueError("secret must not be empty")
    quiz, problems = parse_quiz(text, source=source)
    data = load_yaml(text)
    if quiz is None or not isinstance(data, dict):
        raise CourseError(f"{source} is not a valid quiz:\n" + "\n".join(problems))
    raw_questions = data["questions"]
    data["questions"] = [
        _hash_question(raw, question, salt=question_salt(secret, quiz.lesson, question.id))
        for raw, question in zip(raw_questions, quiz.questions, strict=True)
    ]
    return _HEADER + dump_yaml(data)


def _hash_question(raw: dict[str, object], question: Question, *, salt: str) -> dict[str, object]:
    if question.hashed is not None:
        return raw
    hashed: dict[str, object] = {}
    for key, value in raw.items():
        if key == "answer":
            digests = [answer_digest(salt, normal) for normal in question.keys]
            hashed["answer_hash"] = {"salt": salt, "digests": digests}
        elif key == "explanation":
            encoded = base64.b64encode(question.explanation.encode("utf-8")).decode("ascii")
            hashed["explanation_b64"] = encoded
        elif key == "code" and question.kind != "output":
            continue
        else:
            hashed[key] = value
    return hashed


def hash_quiz_file(source: Path, destination: Path, *, secret: bytes) -> None:
    """Write the hashed students' copy of the quiz at ``source`` to ``destination``."""
    text = source.read_text(encoding="utf-8")
    atomic_write_text(destination, hash_quiz_text(text, secret=secret, source=str(source)))
