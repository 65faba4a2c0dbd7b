"""``--add-noqa``: a ``# noqa: CODE`` comment for every current finding, to adopt lora-lint on
existing code and fix the findings later. Which rows can take a comment is the source's
business (``noqa_rows`` of each ``lint_rules.sources`` module: Python's here, YAML's in
``sources.yaml_comments``; JSON and notebooks have none)."""
from __future__ import annotations

import io
import re
import tokenize
from typing import Callable, Sequence

from .violation import Violation

_NOQA_RE = re.compile(r"#\s*noqa:\s*([\w-]+(?:\s*,\s*[\w-]+)*)", re.IGNORECASE)


def comment_rows(source: str) -> dict[int, int | None]:
    """Python rows whose end is outside any string, where a comment may be appended, each with
    the column of the comment already on it (``None``: no comment)."""
    rows: dict[int, int | None] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                rows[tok.start[0]] = tok.start[1]
            elif tok.type in (tokenize.NEWLINE, tokenize.NL):
                rows.setdefault(tok.start[0], None)
    except (tokenize.TokenError, SyntaxError):
        return {}
    return rows


def add_noqa(source: str, violations: Sequence[Violation],
             rows: Callable[[str], dict[int, int | None]] = comment_rows) -> tuple[str, int]:
    """The source with the codes of ``violations`` added to a ``# noqa`` comment on a line of each
    finding (its first line that can take a comment, by ``rows``); and how many codes were added."""
    safe = rows(source)
    lines = io.StringIO(source).readlines()  # the rows tokenize counts ("\n" only; not str.splitlines)
    wanted: dict[int, set[str]] = {}
    for v in violations:
        row = next((r for r in range(v.location.row, v.end_location.row + 1) if r in safe), None)
        if row is not None and row <= len(lines):
            wanted.setdefault(row, set()).add(v.code)
    added = 0
    for row, codes in wanted.items():
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        comment = safe[row]
        match = _NOQA_RE.search(body, comment) if comment is not None else None
        if match:
            present = [c.strip() for c in match.group(1).split(",")]
            new = [c for c in sorted(codes) if c not in present]
            body = body[: match.end(1)] + "".join(f", {c}" for c in new) + body[match.end(1):]
        else:
            new = sorted(codes)
            body = f"{body}  # noqa: {', '.join(new)}"
        lines[row - 1] = body + ending
        added += len(new)
    return "".join(lines), added
