"""Applying rule fixes (libcst node replacements) and the text edits that describe them."""
from __future__ import annotations

import bisect
import re
from typing import Any, Mapping

import libcst as cst
from libcst.metadata import CodeRange

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
        self._starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def location(self, offset: int) -> Location:
        row = bisect.bisect_right(self._starts, offset) - 1
        return Location(row + 1, offset - self._starts[row] + 1)

    def offset(self, row: int) -> int | None:
        """Offset of the start of a 1-based row."""
        return self._starts[row - 1] if 0 < row <= len(self._starts) else None


def text_edit(before: str, after: str, index: LineIndex, base: int = 0) -> TextEdit | None:
    """The one edit that turns ``before`` (found at offset ``base`` of the indexed text) into ``after``."""
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
    return TextEdit(after[start:end_a], index.location(base + start), index.location(base + end_b))


def _contains(outer: CodeRange, inner: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)


def _local_edit(module: cst.Module, old: cst.CSTNode, new: Any, positions: Mapping[cst.CSTNode, CodeRange],
                index: LineIndex, source: str) -> TextEdit | None | bool:
    """The edit computed on the top-level statement holding ``old`` only; ``False`` if that cannot be
    done exactly (the caller then diffs the whole module)."""
    target = positions.get(old)
    if target is None or not isinstance(new, cst.CSTNode):
        return False
    for statement in module.body:
        where = positions.get(statement)
        if where is not None and _contains(where, target):
            break
    else:
        return False
    decorators = getattr(statement, "decorators", ())
    first = positions.get(decorators[0]).start.line if decorators and decorators[0] in positions else where.start.line
    base = index.offset(first - len(getattr(statement, "leading_lines", ())))
    before = module.code_for_node(statement)
    if base is None or source[base:base + len(before)] != before:
        return False
    after = module.code_for_node(statement.visit(_Replacer({old: new})))
    return text_edit(before, after, index, base)


def edits_for(module: cst.Module, replacements: Mapping[cst.CSTNode, Any], index: LineIndex, source: str,
              positions: Mapping[cst.CSTNode, CodeRange]) -> tuple[TextEdit, ...]:
    """One edit per replaced node, each computed from that replacement alone (on its statement when
    possible, else on the whole module); overlapping edits are merged into one."""
    edits = []
    for node, new in replacements.items():
        edit = _local_edit(module, node, new, positions, index, source)
        if edit is False:
            edit = text_edit(source, apply(module, {node: new}), index)
        edits.append(edit)
    ordered = sorted((e for e in edits if e is not None), key=lambda e: (e.location.row, e.location.column))
    for first, second in zip(ordered, ordered[1:]):
        if (second.location.row, second.location.column) < (first.end_location.row, first.end_location.column):
            merged = text_edit(source, apply(module, replacements), index)
            return (merged,) if merged else ()
    return tuple(ordered)
