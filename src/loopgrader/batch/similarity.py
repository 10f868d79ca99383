"""How alike a class's submissions of one lesson are: evidence for a person, never a score.

Each file is read as Python tokens (the standard ``tokenize``): comments, docstrings, blank
lines and indentation are dropped, so reformatting changes nothing; string literals read as one
token; identifiers (not keywords or builtins) are renamed *inside each k-gram* by order of first
appearance (``V0 V1 - V0``), so consistently renamed variables change nothing while ``a - b``
and ``b - a`` still differ; attribute names (``.sum``, ``.mean``: the API) and numbers are kept
as written; parentheses are dropped (formatters add and remove them). k-grams never cross a
top-level definition, so reordering functions changes nothing either. This is the
fingerprinting of MOSS and compare50 (Schleimer, Wilkerson and Aiken, "Winnowing: local
algorithms for document fingerprinting", SIGMOD 2003) without the winnowing step: a lesson
file has a few hundred tokens, so every k-gram hash is kept, which also lets a one-token change
(a bug, ``.mean`` for ``.sum``) count. Every k-gram of the lesson's stub is removed first, so
the code every student was given never counts.

Why not a library: compare50 pins ``attrs<21`` (hypothesis, a dependency of this project,
needs a newer attrs) and drives its own CLI and HTML; copydetect has had no release since
March 2024 and needs matplotlib. Neither splits k-grams at definitions nor keeps ``a - b``
apart from ``b - a``; this module is ~200 lines over the standard library.

A pair's score is the Jaccard index of the two fingerprint sets (shared / either), from 0
(nothing in common) to 1 (the same code up to renaming, formatting and order).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

__all__ = ["Fingerprint", "LessonSimilarity", "PairSimilarity", "fingerprint",
           "lesson_similarity", "marked_lines"]

K = 8  # tokens per k-gram
KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins))
GROUPING = frozenset({"(", ")"})  # black and friends add and remove them freely
SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass(frozen=True)
class Token:
    text: str  # normalised: a name, an operator, a number, or "S" for a string
    is_name: bool
    line: int
    unit: int  # index of the top-level statement holding it


@dataclass(frozen=True)
class Fingerprint:
    """One submission, tokenised and fingerprinted."""

    name: str
    source: str
    tokens: tuple[Token, ...]
    grams: tuple[tuple[int, int], ...]  # (hash, first token index) of every k-gram not in stub
    prints: frozenset[int]  # every k-gram hash (lesson files are small: no winnowing)


@dataclass(frozen=True)
class PairSimilarity:
    a: str
    b: str
    score: float  # Jaccard index of the fingerprints
    shared: int  # fingerprints in common


@dataclass(frozen=True)
class LessonSimilarity:
    lesson: str
    pairs: tuple[PairSimilarity, ...]  # best first
    documents: Mapping[str, Fingerprint]
    skipped: Mapping[str, str]  # submissions left out, and why


def _tokens(source: str) -> list[Token]:
    units = _units(source)
    raw = [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline)
           if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING)]
    found: list[Token] = []
    depth = 0  # inside an f-string (Python 3.12+ tokenises its parts)
    for index, tok in enumerate(raw):
        kind = tokenize.tok_name.get(tok.type, "")
        if kind == "FSTRING_START":
            depth += 1
            if depth == 1:
                found.append(Token("S", False, tok.start[0], _unit(units, tok.start[0])))
            continue
        if kind == "FSTRING_END":
            depth -= 1
            continue
        if depth or tok.type in SKIP or tok.string in GROUPING or _is_docstring(raw, index):
            continue
        line = tok.start[0]
        if tok.type == tokenize.STRING:
            found.append(Token("S", False, line, _unit(units, line)))
        else:
            is_name = tok.type == tokenize.NAME and tok.string not in KEEP and \
                not (found and found[-1].text == ".")  # attributes are the API: kept
            found.append(Token(tok.string, is_name, line, _unit(units, line)))
    return found


def _is_docstring(raw: list[tokenize.TokenInfo], index: int) -> bool:
    """A string that is a whole statement (a docstring, or a bare string)."""
    if raw[index].type != tokenize.STRING:
        return False
    before = raw[index - 1].type if index else tokenize.NEWLINE
    after = raw[index + 1].type if index + 1 < len(raw) else tokenize.NEWLINE
    starts = before in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    return starts and after in (tokenize.NEWLINE, tokenize.ENDMARKER)


def _unit(units: list[tuple[int, int]], line: int) -> int:
    return next((i for i, (lo, hi) in enumerate(units) if lo <= line <= hi), -1)


def _units(source: str) -> list[tuple[int, int]]:
    """(first line, last line) of every top-level statement, decorators included."""
    spans = []
    for node in ast.parse(source).body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        spans.append((first, node.end_lineno or node.lineno))
    return spans


def _gram_hash(tokens: tuple[Token, ...] | list[Token]) -> int:
    names: dict[str, str] = {}
    parts = []
    for tok in tokens:
        if tok.is_name:
            parts.append(names.setdefault(tok.text, f"V{len(names)}"))
        else:
            parts.append(tok.text)
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _grams(tokens: list[Token]) -> list[tuple[int, int]]:
    grams = []
    for i in range(len(tokens) - K + 1):
        window = tokens[i:i + K]
        if window[0].unit == window[-1].unit:
            grams.append((_gram_hash(window), i))
    return grams


def fingerprint(name: str, source: str, stub: str | None = None) -> Fingerprint:
    """Tokenise and fingerprint ``source``; SyntaxError (or tokenize's errors) if it is not
    Python."""
    tokens = _tokens(source)
    removed = {h for h, _ in _grams(_tokens(stub))} if stub else set()
    grams = tuple((h, i) for h, i in _grams(tokens) if h not in removed)
    return Fingerprint(name, source, tuple(tokens), grams, frozenset(h for h, _ in grams))


def lesson_similarity(lesson: str, sources: Mapping[str, str],
                      stub: str | None = None) -> LessonSimilarity:
    """Every pair of ``sources`` (student → file text), most alike first."""
    documents: dict[str, Fingerprint] = {}
    skipped: dict[str, str] = {}
    for name, source in sorted(sources.items()):
        try:
            doc = fingerprint(name, source, stub)
        except (SyntaxError, tokenize.TokenError, ValueError) as exc:
            skipped[name] = f"not valid Python ({type(exc).__name__})"
            continue
        if not doc.prints:
            skipped[name] = "nothing beyond the stub's own code"
            continue
        documents[name] = doc
    pairs = []
    for a, b in combinations(sorted(documents), 2):
        pa, pb = documents[a].prints, documents[b].prints
        shared = len(pa & pb)
        pairs.append(PairSimilarity(a, b, shared / len(pa | pb), shared))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return LessonSimilarity(lesson, tuple(pairs), documents, skipped)


def marked_lines(doc: Fingerprint, other: Fingerprint) -> list[tuple[int, str, bool]]:
    """(line number, text, shared with ``other``) for every line of ``doc``: a line is shared
    when one of its tokens lies in a k-gram both files hold."""
    theirs = {h for h, _ in other.grams}
    lines: set[int] = set()
    for h, start in doc.grams:
        if h in theirs:
            lines.update(tok.line for tok in doc.tokens[start:start + K])
    return [(number, text, number in lines)
            for number, text in enumerate(doc.source.splitlines(), start=1)]
