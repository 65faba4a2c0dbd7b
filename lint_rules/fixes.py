"""Applying rule fixes (libcst node replacements) and the text edits that describe them."""
from __future__ import annotations

import bisect
from dataclasses import fields
from typing import Any, Iterator, Mapping, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

from .positions import LineIndex, Positions
from .violation import TextEdit


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


class Edits:
    """The text edits that describe fixes on one parsed source.

    Each replacement becomes an edit computed on the smallest node around it that can be
    regenerated on its own: the replaced node itself, or its parent when the replacement is a
    removal or a sequence. Describing a fix costs about the size of that node and the depth of
    the tree, not the size of the file, so a file's findings cost time linear in their number.
    """

    _LONG = 16  # children sequences longer than this are searched by bisection

    def __init__(self, module: cst.Module, source: str, positions: Positions) -> None:
        self.module, self.source, self.positions = module, source, positions
        self._starts: dict[int, tuple[Sequence[Any], list[cst.CSTNode], list[int]]] = {}

    def for_replacements(self, replacements: Mapping[cst.CSTNode, Any]) -> tuple[TextEdit, ...]:
        """One edit per replaced node, each computed from that replacement alone; overlapping
        edits are merged into one (computed on the whole module)."""
        index = self.positions.lines
        edits = []
        for node, new in replacements.items():
            edit = self._local(node, new)
            if edit is False:
                edit = text_edit(self.source, apply(self.module, {node: new}), index)
            edits.append(edit)
        ordered = sorted((e for e in edits if e is not None), key=lambda e: (e.location.row, e.location.column))
        for first, second in zip(ordered, ordered[1:]):
            if (second.location.row, second.location.column) < (first.end_location.row, first.end_location.column):
                merged = text_edit(self.source, apply(self.module, replacements), index)
                return (merged,) if merged else ()
        return tuple(ordered)

    def _local(self, old: cst.CSTNode, new: Any) -> TextEdit | None | bool:
        """The edit on the smallest enclosing node that regenerates verbatim at its place;
        ``False`` if none below the module does."""
        path = self._path_to(old)
        if path is None:
            return False
        module = self.module
        indents = [(block.indent if block.indent is not None else module.default_indent)
                   for block in path if isinstance(block, cst.IndentedBlock)]
        for node in reversed(path[1:]):
            if isinstance(node, cst.IndentedBlock):
                indents.pop()
            if node is old and not isinstance(new, cst.CSTNode):
                continue  # a removal or a flattened sequence is only code inside its parent
            base = self.positions.inclusive(node)[0]
            before = _code(node, module, indents)
            if self.source[base:base + len(before)] != before:
                continue
            after = _code(new if node is old else node.visit(_Replacer({old: new})), module, indents)
            return text_edit(before, after, self.positions.lines, base)
        return False

    def _path_to(self, target: cst.CSTNode) -> list[cst.CSTNode] | None:
        """The nodes from the module down to ``target``, descending only into the child whose code
        (with the whitespace it owns) holds the target's."""
        where = self.positions.inclusive(target)
        if where is None:
            return None
        path: list[cst.CSTNode] = [self.module]

        def descend(node: cst.CSTNode) -> bool:
            for child in self._candidates(node, where[0]):
                around = self.positions.inclusive(child)
                if child is target or (around is not None and around[0] <= where[0] and where[1] <= around[1]):
                    path.append(child)
                    if child is target or descend(child):
                        return True
                    path.pop()
            return False

        return path if descend(self.module) else None

    def _candidates(self, node: cst.CSTNode, start: int) -> Iterator[cst.CSTNode]:
        """The children of ``node`` that may hold the code starting at ``start``: all of them, except
        in a long sequence (a module's statements, a long list), where only those around it are."""
        for item in fields(node):
            value = getattr(node, item.name)
            if isinstance(value, cst.CSTNode):
                yield value
            elif isinstance(value, Sequence) and not isinstance(value, str):
                if len(value) <= self._LONG:
                    yield from (v for v in value if isinstance(v, cst.CSTNode))
                    continue
                nodes, starts = self._sorted(value)
                at = bisect.bisect_right(starts, start)
                yield from nodes[max(at - 2, 0):at + 1]

    def _sorted(self, value: Sequence[Any]) -> tuple[list[cst.CSTNode], list[int]]:
        """A sequence's nodes and where their code starts, computed once per sequence."""
        known = self._starts.get(id(value))
        if known is None or known[0] is not value:
            nodes = [v for v in value if isinstance(v, cst.CSTNode) and self.positions.inclusive(v) is not None]
            known = (value, nodes, [self.positions.inclusive(v)[0] for v in nodes])
            self._starts[id(value)] = known
        return known[1], known[2]


def _code(node: cst.CSTNode, module: cst.Module, indents: list[str]) -> str:
    """``node``'s code as the module writes it inside blocks indented by ``indents``."""
    state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline,
                         indent_tokens=list(indents))
    node._codegen(state)
    return "".join(state.tokens)
