"""Editing a notebook's JSON text in place: a cell's source is replaced, every other byte stays.

Re-serialising the parsed JSON would rewrite the whole file (indentation, escapes, key order,
``1e400`` read as ``inf`` and written as ``Infinity``, which is not JSON). Instead the text is
scanned once for where each cell's source value lies; a changed source is written there, in the
notebook's own style: a string stays a string, a list of lines keeps its untouched elements as
they are written and its separator, non-ASCII text is escaped only where the file escapes it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Callable

from .errors import FixError

_SPACE = re.compile(r"[ \t\n\r]*")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_DECODER = json.JSONDecoder()


@dataclass
class Written:
    """Where a cell's source value is in the text: ``[start, end)``; for a list, each element."""

    start: int
    end: int
    items: list[tuple[int, int]] | None = None


@dataclass
class _Cells:
    top: list[dict[str, Written]] = field(default_factory=list)  # nbformat 4: cells[]
    sheets: list[dict[str, Written]] = field(default_factory=list)  # nbformat 3: worksheets[].cells[]


def locate(text: str, key: str, in_worksheets: bool) -> list[Written | None]:
    """Per cell (in the order the notebook shows them), where its ``key`` value is written."""
    found = _Cells()
    try:
        _object(text, _skip(text, 0), lambda name, pos: _root(text, name, pos, found))
    except (IndexError, ValueError, AssertionError) as exc:
        raise FixError("cannot locate the cells in the notebook's JSON text") from exc
    return [cell.get(key) for cell in (found.sheets if in_worksheets else found.top)]


def replace(text: str, edits: list[tuple[Written, str | list[str], str]]) -> str:
    """``text`` with each ``(where, old value, new source text)`` written in place."""
    ascii_only = text.isascii() and _escapes_non_ascii(text)
    pieces: list[tuple[int, int, str]] = []
    for where, old, new in edits:
        if isinstance(old, list) and where.items is not None:
            pieces.extend(_list_edits(text, where, old, new, ascii_only))
        else:
            pieces.append((where.start, where.end, json.dumps(new, ensure_ascii=ascii_only)))
    out, pos = [], 0
    for start, end, new_text in sorted(pieces):
        out += [text[pos:start], new_text]
        pos = end
    return "".join(out) + text[pos:]


def _escapes_non_ascii(text: str) -> bool:
    """Does the JSON text write some non-ASCII character as a ``\\uXXXX`` escape?"""
    pos = text.find("\\u")
    while pos != -1:
        start = pos
        while start > 0 and text[start - 1] == "\\":
            start -= 1
        code = text[pos + 2:pos + 6]
        if (pos - start) % 2 == 0 and _HEX4.fullmatch(code) and int(code, 16) >= 0x80:
            return True
        pos = text.find("\\u", pos + 2)
    return False


def _list_edits(text: str, where: Written, old: list[str], new: str,
                ascii_only: bool) -> list[tuple[int, int, str]]:
    """Replace only the elements that changed; new elements are lines, as Jupyter splits them."""
    items = where.items or []
    first, pos = 0, 0
    while first < len(old) and new.startswith(old[first], pos):
        pos += len(old[first])
        first += 1
    last, end = len(old), len(new)
    while last > first and end - len(old[last - 1]) >= pos and new.endswith(old[last - 1], 0, end):
        last -= 1
        end -= len(old[last])
    added = [json.dumps(line, ensure_ascii=ascii_only) for line in new[pos:end].splitlines(keepends=True)]
    if first == last and not added:
        return []
    if not items:
        return [(where.start, where.end, "[" + ", ".join(added) + "]")]
    sep = _separator(text, where)
    if first < last and added:  # elements changed
        return [(items[first][0], items[last - 1][1], sep.join(added))]
    if added:  # elements inserted
        if first < len(items):
            return [(items[first][0], items[first][0], sep.join(added) + sep)]
        return [(items[-1][1], items[-1][1], sep + sep.join(added))]
    if last < len(items):  # elements removed
        return [(items[first][0], items[last][0], "")]
    if first > 0:
        return [(items[first - 1][1], items[last - 1][1], "")]
    return [(where.start, where.end, "[]")]


def _separator(text: str, where: Written) -> str:
    """What the list writes between two elements (``,\\n    `` in Jupyter's layout)."""
    items = where.items or []
    if len(items) > 1:
        return text[items[0][1]:items[1][0]]
    lead = text[where.start + 1:items[0][0]] if items else ""
    return "," + lead if "\n" in lead else ", "


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()


def _value(text: str, pos: int) -> int:
    """The end of the JSON value at ``pos``."""
    return _DECODER.raw_decode(text, pos)[1]


def _object(text: str, pos: int, member: Callable[[str, int], int]) -> int:
    """Walk the object at ``pos``; ``member(name, value position)`` returns the value's end."""
    if text[pos] != "{":
        return _value(text, pos)
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return pos + 1
    while True:
        assert text[pos] == '"'
        name, pos = scanstring(text, pos + 1)
        pos = _skip(text, pos)
        assert text[pos] == ":"
        pos = _skip(text, member(name, _skip(text, pos + 1)))
        if text[pos] == "}":
            return pos + 1
        assert text[pos] == ","
        pos = _skip(text, pos + 1)


def _array(text: str, pos: int, element: Callable[[int], int]) -> int:
    """Walk the array at ``pos``; ``element(position)`` returns each element's end."""
    if text[pos] != "[":
        return _value(text, pos)
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return pos + 1
    while True:
        pos = _skip(text, element(pos))
        if text[pos] == "]":
            return pos + 1
        assert text[pos] == ","
        pos = _skip(text, pos + 1)


def _root(text: str, name: str, pos: int, found: _Cells) -> int:
    if name == "cells":
        found.top = []
        return _array(text, pos, lambda p: _cell(text, p, found.top))
    if name == "worksheets":
        found.sheets = []
        return _array(text, pos, lambda p: _object(text, p, lambda n, q: _worksheet(text, n, q, found)))
    return _value(text, pos)


def _worksheet(text: str, name: str, pos: int, found: _Cells) -> int:
    if name == "cells":
        return _array(text, pos, lambda p: _cell(text, p, found.sheets))
    return _value(text, pos)


def _cell(text: str, pos: int, cells: list[dict[str, Written]]) -> int:
    where: dict[str, Written] = {}
    cells.append(where)
    return _object(text, pos, lambda name, p: _source(text, name, p, where))


def _source(text: str, name: str, pos: int, where: dict[str, Written]) -> int:
    if name not in ("source", "input"):
        return _value(text, pos)
    if text[pos] != "[":
        end = _value(text, pos)
        where[name] = Written(pos, end)
        return end
    items: list[tuple[int, int]] = []

    def element(p: int) -> int:
        end = _value(text, p)
        items.append((p, end))
        return end

    end = _array(text, pos, element)
    where[name] = Written(pos, end, items)
    return end
