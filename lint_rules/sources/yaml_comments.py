"""A YAML text's comments, and the rows where one can be added: ``# noqa`` in trainer YAML.

YAML's comment starts with a ``#`` at the start of a line or after a space or tab, outside every
scalar (``'a # b'``, a block scalar's lines and ``x#y`` hold no comment). The scalars are found
with PyYAML's scanner (its marks count characters, as the text does); a text the scanner
rejects has no comments here (it is ``LORA000`` anyway).
"""
from __future__ import annotations

import bisect
import re

from .config_program import without_bom

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as violation.split_rows and YAML read them


def _scalars(text: str) -> list[tuple[int, int]] | None:
    """The ``[start, end)`` offsets of every scalar token, in order; None: not YAML."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(without_bom(text))
    spans = []
    try:
        while loader.check_token():
            token = loader.get_token()
            if isinstance(token, yaml.ScalarToken):
                spans.append((token.start_mark.index, token.end_mark.index))
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return spans


def _inside(spans: list[tuple[int, int]], starts: list[int], offset: int) -> bool:
    """Whether the character at ``offset`` belongs to a scalar."""
    i = bisect.bisect_right(starts, offset) - 1
    return i >= 0 and offset < spans[i][1]


def _lines(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each row's content (without its line break), rows as ``Location`` counts them."""
    found, start = [], 0
    for brk in _LINE_BREAK.finditer(text):
        found.append((start, brk.start()))
        start = brk.end()
    found.append((start, len(text)))
    return found


def _scan(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[int | None]] | None:
    """The scalars' spans, each row's span, and the offset of the comment on each row (None: none)."""
    spans = _scalars(text)
    if spans is None:
        return None
    starts = [a for a, _ in spans]
    rows = _lines(text)
    marks: list[int | None] = []
    for start, end in rows:
        mark = None
        at = text.find("#", start, end)
        while at >= 0:
            if (at == start or text[at - 1] in " \t") and not _inside(spans, starts, at):
                mark = at
                break
            at = text.find("#", at + 1, end)
        marks.append(mark)
    return spans, rows, marks


def comments(text: str) -> list[tuple[int, str, bool]]:
    """``(row, comment text, alone on its row)`` for every comment (1-based rows)."""
    scanned = _scan(text)
    if scanned is None:
        return []
    _, rows, marks = scanned
    return [(number, text[mark:end], not text[start:mark].strip())
            for number, ((start, end), mark) in enumerate(zip(rows, marks), 1) if mark is not None]


def noqa_rows(text: str) -> dict[int, int | None]:
    """Rows whose end lies outside every scalar, where a comment may be appended, each with the
    column of the comment already on it (None: no comment). A text with a lone ``\\r`` line
    break has none: ``add_noqa`` counts rows at ``\\n`` only."""
    scanned = None if re.search(r"\r(?!\n)", text) else _scan(text)
    if scanned is None:
        return {}
    spans, rows, marks = scanned
    starts = [a for a, _ in spans]
    found: dict[int, int | None] = {}
    for number, ((start, end), mark) in enumerate(zip(rows, marks), 1):
        if mark is not None:
            found[number] = mark - start
        elif not _continues(spans, starts, end):
            found[number] = None
    return found


def _continues(spans: list[tuple[int, int]], starts: list[int], offset: int) -> bool:
    """Whether a scalar starts before ``offset`` and ends after it (the row's end is inside it)."""
    i = bisect.bisect_left(starts, offset) - 1
    return i >= 0 and spans[i][1] > offset
