"""The names a notebook's cells bind in the kernel's namespace, where they shadow IPython's
automagic (``prefilter.is_shadowed``: ``pip = 3`` in one cell makes a later ``pip install x``
Python, and a syntax error).

A cell binds a name where its module-level code assigns, imports, defines, loops over or
matches it, or ``x = !cmd`` / ``x = %magic`` assigns to it; a ``del`` unbinds it (as the end of
an ``except ... as name:`` handler does). A binding statement counts wherever it stands (under an
``if``, in a loop that may not run). The cells run in order, each as a whole; one that does not
compile binds nothing. A star import, ``%run`` or ``%store -r`` may bind any name and is not
counted: the magic is assumed, which never reports a syntax error Jupyter would not raise.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from .ipython import Row

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_CAPTURES = (ast.MatchAs, ast.MatchStar)


class Bindings:
    """The cells seen so far, in order; ``bound(name)`` after them. A cell is parsed only when a
    name it mentions is asked about."""

    def __init__(self) -> None:
        self._cells: list[list[Row]] = []
        self._effects: dict[int, dict[str, bool]] = {}

    def add(self, rows: list[Row]) -> None:
        self._cells.append(rows)

    def bound(self, name: str) -> bool:
        """Is ``name`` bound after the cells added so far have run?"""
        word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        state = False
        for number, rows in enumerate(self._cells):
            if not any(word.search(row.text if row.python else row.target) for row in rows):
                continue
            if number not in self._effects:
                self._effects[number] = _effects(rows)
            state = self._effects[number].get(name, state)
        return state


def _effects(rows: list[Row]) -> dict[str, bool]:
    """Each name the cell binds (``True``) or unbinds (``False``), as it stands after the cell."""
    source = "".join(_statement(row) + "\n" for row in rows)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return {}
    return dict(_events(tree))


def _statement(row: Row) -> str:
    """The row as Python; ``x = !cmd`` as an assignment to ``x`` at the row's indentation."""
    if not row.target:
        return row.text
    return row.text[:len(row.text) - len(row.text.lstrip(" \t"))] + row.target + " = None"


def _events(node: ast.AST) -> Iterator[tuple[str, bool]]:
    """The module-level binds and unbinds under ``node``, in the order the code runs them."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPES):
            yield child.name, True
        elif isinstance(child, _COMPREHENSIONS):
            yield from ((n.target.id, True) for n in ast.walk(child) if isinstance(n, ast.NamedExpr))
        elif isinstance(child, ast.Lambda) or (isinstance(child, ast.AnnAssign) and child.value is None):
            continue  # a lambda's own scope; `x: int` only annotates
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            yield from ((alias.asname or alias.name.split(".")[0], True)
                        for alias in child.names if alias.name != "*")
        elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
            yield child.id, isinstance(child.ctx, ast.Store)
        else:
            yield from _events(child)
            if isinstance(child, _CAPTURES) and child.name:  # a match capture
                yield child.name, True
            elif isinstance(child, ast.MatchMapping) and child.rest:
                yield child.rest, True
            elif isinstance(child, ast.ExceptHandler) and child.name:  # unbound when it ends
                yield child.name, False
