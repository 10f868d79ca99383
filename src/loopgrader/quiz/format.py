"""What counts as "the same answer", salted answer digests, and the YAML dialect of quiz files.

Every answer, the key's and the student's, is compared in a *normal form*:

- choices: the chosen letters, lower case, sorted, without separators (``"ac"``);
- numbers: the value written with the question's stated number of decimals (``"0.417"``);
- short text: case-folded, surrounding quotes and backticks dropped, runs of whitespace
  read as one space and whitespace beside punctuation ignored (``"model.eval()"``);
- printed output: as short text, but quotes are kept (they may be part of what is printed).

Students' copies of a quiz may hold HMAC-SHA256 digests of the normal forms instead of the
keys (see :mod:`loopgrader.quiz.hashing`); :func:`answer_digest` is the one place that computes
them. Quiz and answers files are read with :func:`load_yaml`: safe YAML in which ``yes``/``no``/
``true`` stay text (so a text answer is never turned into a boolean) and a repeated key is an
error instead of silently replacing the first.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import yaml

__all__ = [
    "answer_digest",
    "digest_matches",
    "dump_yaml",
    "format_number",
    "load_yaml",
    "normalize_letters",
    "normalize_output",
    "normalize_text",
]

_SPACES = re.compile(r"\s+")
_SPACE_AT_PUNCTUATION = re.compile(r"\s*([^\w\s])\s*")
_QUOTES = "`'\""
_BOOL_TAG = "tag:yaml.org,2002:bool"


def normalize_output(value: str) -> str:
    """Normal form of printed output: case-folded, whitespace collapsed, none beside punctuation."""
    collapsed = _SPACES.sub(" ", value.casefold()).strip()
    return _SPACE_AT_PUNCTUATION.sub(r"\1", collapsed)


def normalize_text(value: str) -> str:
    """Normal form of a short-text answer: as printed output, without surrounding quotes."""
    return normalize_output(value.strip().strip(_QUOTES))


def normalize_letters(letters: Iterable[str]) -> str:
    """Normal form of chosen letters: lower case, each once, sorted, joined (``"ac"``)."""
    return "".join(sorted({letter.strip().casefold() for letter in letters}))


def format_number(value: float, decimals: int) -> str:
    """``value`` written with ``decimals`` decimals; ``-0.00`` is written ``0.00``."""
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


def answer_digest(salt: str, normal_form: str) -> str:
    """HMAC-SHA256 of a normal form, keyed by the question's salt (hex), as hex."""
    key = bytes.fromhex(salt)
    return hmac.new(key, normal_form.encode("utf-8"), hashlib.sha256).hexdigest()


def digest_matches(salt: str, digests: Sequence[str], normal_form: str) -> bool:
    """Whether ``normal_form`` hashes to one of ``digests`` (compared in constant time)."""
    mine = answer_digest(salt, normal_form)
    return any(hmac.compare_digest(mine, digest.lower()) for digest in digests)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML without implicit booleans and without repeated keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> object:
    """Parse ``text`` as strict safe YAML (raises :class:`yaml.YAMLError`)."""
    return yaml.load(text, Loader=_StrictLoader)


class _BlockDumper(yaml.SafeDumper):
    """Safe YAML that writes multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: yaml.SafeDumper, value: list[object]) -> yaml.SequenceNode:
    flat = all(isinstance(item, str | int | float) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


_BlockDumper.add_representer(str, _represent_str)
_BlockDumper.add_representer(list, _represent_list)


def dump_yaml(data: object) -> str:
    """``data`` as block-style YAML, keys in their given order, multi-line strings as ``|`` and
    lists of plain values on one line (``[a, c]``)."""
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
