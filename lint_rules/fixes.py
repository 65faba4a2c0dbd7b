"""Applying rule fixes (libcst node replacements) and writing fixed files safely."""
from __future__ import annotations

import bisect
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import libcst as cst

from .violation import Location, TextEdit


class _Replacer(cst.CSTTransformer):
    def __init__(self, replacements: Mapping[cst.CSTNode, Any]) -> None:
        super().__init__()
        self._replacements = replacements

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node not in self._replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        return self._replacements.get(original_node, updated_node)


def apply(module: cst.Module, replacements: Mapping[cst.CSTNode, Any]) -> str:
    """The module's code with the given nodes replaced (comments and formatting kept)."""
    return module.visit(_Replacer(replacements)).code


class LineIndex:
    """Offsets <-> 1-based (row, column) for one text."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self._starts.append(index + 1)

    def location(self, offset: int) -> Location:
        row = bisect.bisect_right(self._starts, offset) - 1
        return Location(row + 1, offset - self._starts[row] + 1)


def text_edit(before: str, after: str, index: LineIndex | None = None) -> TextEdit | None:
    """The one edit that turns ``before`` into ``after`` (shared prefix and suffix trimmed)."""
    if before == after:
        return None
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    end_b, end_a = len(before), len(after)
    while end_b > start and end_a > start and before[end_b - 1] == after[end_a - 1]:
        end_b -= 1
        end_a -= 1
    index = index or LineIndex(before)
    return TextEdit(after[start:end_a], index.location(start), index.location(end_b))


def edits_for(module: cst.Module, replacements: Mapping[cst.CSTNode, Any], index: LineIndex) -> tuple[TextEdit, ...]:
    """One edit per replaced node, each computed from that replacement alone."""
    before = module.code
    edits = [text_edit(before, apply(module, {node: new}), index) for node, new in replacements.items()]
    ordered = sorted((e for e in edits if e is not None), key=lambda e: (e.location.row, e.location.column))
    for first, second in zip(ordered, ordered[1:]):
        if (second.location.row, second.location.column) < (first.end_location.row, first.end_location.column):
            merged = text_edit(before, apply(module, replacements), index)
            return (merged,) if merged else ()
    return tuple(ordered)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temporary file in the same folder, keeping its mode."""
    mode = path.stat().st_mode & 0o7777
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
