"""``# noqa`` comments: per line (``# noqa: LORA201``, rule names too, bare ``# noqa``) and per
file (``# lora-lint: noqa`` or ``# lora-lint: noqa: LORA201`` on a line of its own)."""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from .catalog import to_code

ALL = "*"
_LINE_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[\w-]+(?:\s*,\s*[\w-]+|\s+[\w-]+)*))?", re.IGNORECASE)
_FILE_RE = re.compile(
    r"^\s*#\s*lora-lint:\s*noqa(?::\s*(?P<codes>[\w-]+(?:\s*,\s*[\w-]+|\s+[\w-]+)*))?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def _codes(text: str | None) -> set[str]:
    if not text:
        return {ALL}
    return {code for token in re.split(r"[\s,]+", text) if token and (code := to_code(token))}


def file_exemptions(source: str) -> set[str]:
    """Codes turned off for the whole file (``{"*"}``: all of them)."""
    codes: set[str] = set()
    for match in _FILE_RE.finditer(source):
        codes |= _codes(match.group("codes"))
    return codes


def exemptions_in(comments: list[tuple[int, str, bool]]) -> set[str]:
    """``file_exemptions`` from a file's comments (``(line, text, alone)``): those alone on their line."""
    return file_exemptions("\n".join(text for _, text, alone in comments if alone))


def _comments(source: str) -> list[tuple[int, str, bool]]:
    """(line, comment text, alone on its line) for every comment, strings excluded."""
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.append((tok.start[0], tok.string, not tok.line[: tok.start[1]].strip()))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


@dataclass
class NoqaMap:
    """The ``# noqa`` comments of one file, by line."""

    by_line: dict[int, set[str]] = field(default_factory=dict)
    standalone: set[int] = field(default_factory=set)

    @classmethod
    def from_source(cls, source: str) -> "NoqaMap":
        if "noqa" not in source.lower():
            return cls()
        return cls.from_comments(_comments(source))

    @classmethod
    def from_comments(cls, comments: list[tuple[int, str, bool]]) -> "NoqaMap":
        """From ``(line, comment text, alone on its line)`` records (a YAML file's, for one)."""
        noqa = cls()
        for line, text, alone in comments:
            match = _LINE_RE.search(text)
            if match and not text.lstrip("# \t").lower().startswith("lora-lint:"):
                noqa.by_line.setdefault(line, set()).update(_codes(match.group("codes")))
                if alone:
                    noqa.standalone.add(line)
        return noqa

    def suppresses(self, code: str, first_line: int, last_line: int) -> bool:
        """True if a comment on a line of the span, or alone on the line just above it, names ``code``."""
        lines = list(range(first_line, last_line + 1))
        if first_line - 1 in self.standalone:
            lines.append(first_line - 1)
        return any(code in self.by_line.get(n, ()) or ALL in self.by_line.get(n, ()) for n in lines)
