"""The concise line, then the source lines involved with a caret under the flagged range."""
from __future__ import annotations

from typing import Mapping, Sequence

from ..violation import Violation, split_rows
from .concise import line

CONTEXT = 1  # lines shown before and after


def _lines(filename: str, cell: int | None, sources: Mapping[str, str]) -> list[str] | None:
    """The lines of the file, or of one cell of a notebook."""
    text = sources.get(filename)
    if text is None:
        return None
    if cell is None:
        return split_rows(text)
    from ..sources.notebook import cell_text

    source = cell_text(text, cell)
    return None if source is None else split_rows(source)


def snippet(violation: Violation, lines: list[str]) -> list[str]:
    start, end = violation.location, violation.end_location
    first = max(1, start.row - CONTEXT)
    last = min(len(lines), end.row + CONTEXT)
    width = len(str(last))
    out = []
    for row in range(first, last + 1):
        text = lines[row - 1]
        out.append(f"{row:>{width}} | {text}")
        if start.row <= row <= end.row:
            left = start.column - 1 if row == start.row else len(text) - len(text.lstrip())
            right = end.column - 1 if row == end.row else len(text)
            out.append(f"{'':>{width}} | {' ' * left}{'^' * max(1, right - left)}")
    return out


def render(violations: Sequence[Violation], sources: Mapping[str, str], *, unsafe: bool = False) -> str:
    blocks = []
    read: dict[tuple[str, int | None], list[str] | None] = {}  # each file's (cell's) lines, once, not per finding
    for violation in violations:
        parts = [line(violation, unsafe)]
        key = (violation.filename, violation.extra.get("cell"))
        if key not in read:
            read[key] = _lines(*key, sources)
        lines = read[key]
        if lines and violation.location.row <= len(lines):
            parts.extend("  " + s for s in snippet(violation, lines))
        if violation.fix is not None:
            kind = "" if violation.fix.applicability == "safe" else " (unsafe)"
            parts.append(f"  help{kind}: {violation.fix.message}")
        if violation.url:
            parts.append(f"  see: {violation.url}")
        blocks.append("\n".join(parts) + "\n")
    return "\n".join(blocks)
