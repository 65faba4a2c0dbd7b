"""IPython's input syntax: which rows of a notebook cell are Python, as Jupyter runs the cell.

IPython (``IPython.core.inputtransformer2``) drops leading blank lines, dedents a cell indented
as a whole (``textwrap.dedent``), runs a ``%%magic`` first line as a cell magic, and turns
escaped lines (``!cmd``, ``%magic``, ``?obj``, ``obj?``, ``,f a``, ``;f a``, ``/f a``, and
``x = !cmd`` / ``x = %magic``) at the start of a logical line into calls; such a line goes on
over the following lines while it ends with a backslash. The cell magics that run their body as
Python in the kernel (``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``, ``%%debug``) hand it
through the same rules; the body of any other cell magic (``%%bash``, ``%%writefile``,
``%%html``, ``%%python3`` in a subprocess, ...) is not the notebook's Python.

IPython itself is not needed: this module follows its documented transforms on the text.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_ESCAPES = ("!", "%", "?", ",", ";", "/")
_INDENT = re.compile(r"[ \t]*")
_CELL_MAGIC = re.compile(r"%%(\w*)")
_MAGIC_NAME = re.compile(r"%\w")
_NOT_ASSIGN_BEFORE = "=!<>+-*/%&|^@:~"


@dataclass(frozen=True)
class Row:
    """One row of a cell as Python sees it.

    ``text`` is the row without ``prefix`` (indentation IPython removes); for IPython syntax
    (``python`` false) it is a stand-in that keeps the Python around it valid: ``pass`` at the
    row's indentation for an escaped line, an empty row otherwise.
    """

    text: str
    prefix: str = ""
    python: bool = True


def python_rows(rows: list[str]) -> list[Row]:
    """One ``Row`` per row of the cell (rows without their line endings)."""
    out = [Row(row if row.strip(" \t") else "") for row in rows]
    prefixes = [""] * len(rows)
    texts = list(rows)
    start = 0
    while True:
        start = next((i for i in range(start, len(texts)) if texts[i].strip(" \t")), len(texts))
        if start == len(texts):
            return out
        _dedent(texts, prefixes, start)
        magic = _CELL_MAGIC.match(texts[start])
        if magic is None or texts[start].startswith("?", magic.end()):
            break
        out[start] = Row("", prefixes[start], python=False)
        if magic.group(1) not in PYTHON_CELL_MAGICS:
            for i in range(start + 1, len(rows)):
                out[i] = Row("", prefixes[i], python=False)
            return out
        start += 1
    _scan(texts, prefixes, start, out)
    return out


def _dedent(texts: list[str], prefixes: list[str], start: int) -> None:
    """``textwrap.dedent`` of ``texts[start:]``: the common indentation of the rows that are not
    blank is removed (and added to their ``prefixes``); blank rows become empty."""
    indents = [_INDENT.match(t).group() for t in texts[start:] if t.strip(" \t")]
    margin = os.path.commonprefix(indents) if indents else ""
    for i in range(start, len(texts)):
        if not texts[i].strip(" \t"):
            texts[i] = ""
        elif margin:
            texts[i] = texts[i][len(margin):]
            prefixes[i] += margin


def _scan(texts: list[str], prefixes: list[str], start: int, out: list[Row]) -> None:
    """Mark escaped lines among ``texts[start:]``, following Python's logical lines."""
    state = _State()
    i = start
    while i < len(texts):
        text = texts[i]
        if state.at_start and _escaped(text, state):
            indent = _INDENT.match(text).group()
            out[i] = Row(indent + "pass", prefixes[i], python=False)
            while texts[i].endswith("\\") and i + 1 < len(texts):
                i += 1
                out[i] = Row("", prefixes[i], python=False)
        else:
            out[i] = Row(text, prefixes[i])
            state.advance(text)
        i += 1


def _escaped(text: str, state: "_State") -> bool:
    """Is this row, at the start of a logical line, IPython syntax rather than Python?"""
    stripped = text.lstrip(" \t")
    if not stripped or stripped.startswith("#"):
        return False
    if stripped.startswith(_ESCAPES):
        return True
    probe = _State()
    probe.advance(text)
    if probe.assign is not None:
        rest = text[probe.assign + 1:].lstrip(" \t")
        if rest.startswith("!") or _MAGIC_NAME.match(rest):
            return True
    return probe.at_start and probe.last == "?"


class _State:
    """Where Python's tokenizer stands after some rows: open brackets, an open string, a
    backslash continuation. Only what telling logical lines apart needs."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None
        self.continued = False
        self.assign: int | None = None  # the first `=` of the last row at bracket depth 0
        self.last = ""  # the last code character of the last row (comments and strings aside)

    @property
    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def advance(self, text: str) -> None:
        i, n = 0, len(text)
        self.assign, self.last, comment = None, "", False
        while i < n:
            c = text[i]
            if self.quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if text.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote, self.last = None, "'"
                    continue
                i += 1
                continue
            if c == "#":
                comment = True
                break
            if c in "\"'":
                self.quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
                i += len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif (c == "=" and self.depth == 0 and self.assign is None and text[i + 1:i + 2] != "="
                  and (i == 0 or text[i - 1] not in _NOT_ASSIGN_BEFORE)):
                self.assign = i
            if not c.isspace():
                self.last = c
            i += 1
        self.continued = not comment and text.endswith("\\") and self.quote is None
        if self.quote in ("'", '"') and not text.endswith("\\"):
            self.quote = None  # an unterminated one-line string: a syntax error Python reports
