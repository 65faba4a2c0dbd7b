"""CPython's tree (``ast``) walked without ``ast.walk``'s cost, and the chains libcst's parser
is slow on.

``CHILDREN[type(node)]`` names the fields of a node that can hold other nodes, leaving out its
names, numbers and flags and the operator and context nodes (``ast.Add``, ``ast.Load``), which hold
nothing: a walk that reads only these fields (a list, a stack, ``getattr``) reaches every other
node, parents before children, at about a quarter of ``ast.walk``'s cost. Anything else found in
such a field (a string in ``Global.names``, ``None`` in ``Dict.keys``) has no entry and no children.
"""
from __future__ import annotations

import ast

# fields that never hold a node with children: identifiers, numbers, flags, operators, contexts
_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "name", "arg", "module", "asname", "kind", "level",
                          "is_async", "conversion", "simple", "type_comment", "tag"})


def _node_types(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_node_types(sub))
    return found


CHILDREN: dict[type, tuple[str, ...]] = {cls: tuple(f for f in cls._fields if f not in _LEAF_FIELDS)
                                         for cls in _node_types(ast.AST)}
CHILDREN[ast.Constant] = ()  # its value is a Python value (a tuple of them at most), never a node

# the links of a chain libcst's parser recurses on, per node type: the operands that continue it
LINKS: dict[type, tuple[str, ...]] = {ast.BinOp: ("left", "right"), ast.Attribute: ("value",),
                                      ast.Subscript: ("value",), ast.Call: ("func",)}


def longest_chain(tree: ast.AST) -> int:
    """The most operations chained in one expression: binary operators (``a + b - c ...``,
    ``a ** b ** c``), attributes, calls and subscripts (``x.y()[0].z``), counted along the
    operands libcst's parser recurses into. Its time grows with the square of that number
    (measured, libcst 1.9: 3,000 ``+`` take 3 s, 3,000 subscripts 33 s; ``and``/``or`` chains,
    comparisons and implicit string concatenation do not)."""
    chains = Chains()
    stack: list = [tree]
    pop, push, extend, children = stack.pop, stack.append, stack.extend, CHILDREN.get
    while stack:
        node = pop()
        kind = type(node)
        for name in children(kind, ()):
            value = getattr(node, name)
            if value.__class__ is list:
                extend(value)
            elif value is not None:
                push(value)
        if kind in LINKS:
            chains.link(node, kind)
    return chains.longest


class Chains:
    """The longest chain over the nodes given to ``link`` (each chain's nodes in the order of a
    walk that visits parents before children)."""

    def __init__(self) -> None:
        self.longest = 0
        self._runs: dict[int, int] = {}  # id of a node inside a chain -> the links above it

    def link(self, node: ast.AST, kind: type) -> None:
        run = self._runs.pop(id(node), 0) + 1
        if run > self.longest:
            self.longest = run
        for name in LINKS[kind]:
            child = getattr(node, name)
            if type(child) in LINKS:
                self._runs[id(child)] = run
