"""Where the nodes of a parsed module lie in its source.

One code-generation pass records, for every node, the character offsets of its code with and
without the whitespace it owns. It gives the same ranges as libcst's ``PositionProvider`` at a
fraction of its cost (no line splitting per token, no range objects per node); rows and columns
are computed only for the nodes that are reported. Given the nodes that will be asked about, it
keeps only the ranges a fix's edit needs (``fixes.Edits``): those of the nodes on the paths from
the module down to them, and of their children (a whole module's ranges take about as much
memory as its tree).
"""
from __future__ import annotations

import bisect
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import libcst as cst
from libcst._add_slots import add_slots
from libcst._nodes.internal import CodegenState
from libcst._position import CodePosition, CodeRange

from .violation import Location

_LINE_END = re.compile(r"\r\n?|\n")  # where Python (and libcst's positions) end a row


class LineIndex:
    """Offsets <-> 1-based (row, column) for one text; rows end at ``\\n``, ``\\r\\n`` or ``\\r``."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [match.end() for match in _LINE_END.finditer(text)]

    def location(self, offset: int) -> Location:
        row = bisect.bisect_right(self._starts, offset) - 1
        return Location(row + 1, offset - self._starts[row] + 1)

    def offset(self, row: int) -> int | None:
        """Offset of the start of a 1-based row."""
        return self._starts[row - 1] if 0 < row <= len(self._starts) else None


@add_slots
@dataclass(frozen=False)
class _Recorder(CodegenState):
    """Code generation that tracks the offset reached and records each node's offsets."""

    offset: int = 0
    inclusive: dict = field(default_factory=dict)  # node -> (start, end), with owned whitespace
    syntactic: dict = field(default_factory=dict)  # node -> (start, end), as PositionProvider's
    wanted: Optional[frozenset] = None  # None: keep every node's ranges
    _starts: list = field(default_factory=list)
    _open: list = field(default_factory=list)  # per node being generated: [its children, holds a wanted node]

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        if self.tokens:  # only the last token is needed (``pop_trailing_newline``)
            self.tokens[0] = value
        else:
            self.tokens.append(value)
        self.offset += len(value)

    def pop_trailing_newline(self) -> None:
        if self.tokens:
            self.offset -= len(self.tokens.pop())

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(self.offset)
        if self.wanted is not None:
            self._open.append([[], False])

    def after_codegen(self, node: cst.CSTNode) -> None:
        span = (self._starts.pop(), self.offset)
        self.inclusive[node] = span
        self.syntactic.setdefault(node, span)
        if self.wanted is None:
            return
        children, keep = self._open.pop()
        keep = keep or node in self.wanted
        if not keep:  # the children's ranges serve only a path down to a wanted node
            for child in children:
                self.inclusive.pop(child, None)
                self.syntactic.pop(child, None)
        if self._open:
            parent = self._open[-1]
            parent[0].append(node)
            parent[1] = parent[1] or keep

    @contextmanager
    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None,
                                  end_node: Optional[cst.CSTNode] = None) -> Iterator[None]:
        start = self.offset
        try:
            yield
        finally:
            end = self.offset
            if start_node is not None:
                start = self.syntactic[start_node][0]
            if end_node is not None:
                end = self.syntactic[end_node][1]
            self.syntactic[node] = (start, end)


class Positions:
    """Node ranges of one module: ``positions[node]`` is its ``CodeRange`` (0-based columns, as
    libcst's ``PositionProvider`` gives), ``inclusive(node)`` its offsets with owned whitespace."""

    def __init__(self, module: cst.Module, source: str, wanted: Optional[Iterable[cst.CSTNode]] = None) -> None:
        """``wanted``: the nodes that will be asked about (``None``: any node)."""
        recorder = _Recorder(default_indent=module.default_indent, default_newline=module.default_newline,
                             wanted=frozenset(wanted) if wanted is not None else None)
        module._codegen(recorder)
        self._inclusive, self._syntactic = recorder.inclusive, recorder.syntactic
        self.lines = LineIndex(source)

    def __contains__(self, node: object) -> bool:
        return node in self._syntactic

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        start, end = self._syntactic[node]
        return CodeRange(self._position(start), self._position(end))

    def inclusive(self, node: cst.CSTNode) -> tuple[int, int] | None:
        return self._inclusive.get(node)

    def _position(self, offset: int) -> CodePosition:
        where = self.lines.location(offset)
        return CodePosition(where.row, where.column - 1)
