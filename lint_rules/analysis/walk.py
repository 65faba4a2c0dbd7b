"""Visiting a libcst tree without rebuilding it.

``node.visit(visitor)`` makes a new copy of every node it passes, even for a visitor that only
reads (libcst's ``_visit_and_replace_children`` constructs and validates each node again): that
was half of the analysis time on peft's sources. ``visit`` calls the same ``visit_<Type>`` and
``leave_<Type>`` methods of a read-only ``CSTVisitor`` on the same nodes in the same order, and
builds nothing.

The order of a node's children is libcst's: the fields its ``_visit_and_replace_children`` hands
to ``visit_required``/``visit_sequence``/..., in that order. ``derive_child_fields`` reads them
from libcst's source; ``child_fields.json`` keeps them for the libcst version it was written
with (``scripts/gen_child_fields.py``), so a run reads no libcst source unless another version
is installed.
"""
from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import libcst as cst
from libcst import MaybeSentinel
from libcst._nodes import base, expression, module, op, statement, whitespace
from libcst._version import __version__ as LIBCST_VERSION
from libcst._typed_visitor import CSTTypedVisitorFunctions

TABLE = Path(__file__).with_name("child_fields.json")
_NODE_MODULES = (base, expression, module, op, statement, whitespace)
_ATTRIBUTE_HOOK = re.compile(r"^(?:visit|leave)_[A-Z][A-Za-z]*_[a-z_]+$")


def derive_child_fields() -> dict[str, list[str]]:
    """For each libcst node class that defines ``_visit_and_replace_children``: the fields it
    visits, in the order it visits them (read from the installed libcst's source)."""
    found: dict[str, list[str]] = {}
    for source in _NODE_MODULES:
        tree = ast.parse(Path(source.__file__).read_text(encoding="utf-8"))
        for kind in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for method in kind.body:
                if isinstance(method, ast.FunctionDef) and method.name == "_visit_and_replace_children":
                    if kind.name in found:
                        raise ValueError(f"libcst defines two node classes named {kind.name}")
                    found[kind.name] = _visited_fields(method)
    return found


def _visited_fields(method: ast.FunctionDef) -> list[str]:
    """The field names passed as ``visit_*(self, "<field>", ...)``, in source order, once each."""
    calls = sorted((node for node in ast.walk(method) if isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name) and node.func.id.startswith("visit_")
                    and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id == "self"
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)),
                   key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(node.args[1].value for node in calls))  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def _table() -> dict[str, list[str]]:
    stored = json.loads(TABLE.read_text(encoding="utf-8"))
    if stored.get("libcst") == LIBCST_VERSION:
        return stored["fields"]
    return derive_child_fields()


@lru_cache(maxsize=None)
def child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that hold its children, in libcst's visiting order."""
    owner = next(c for c in kind.__mro__ if "_visit_and_replace_children" in c.__dict__)
    if owner is cst.CSTNode or owner is base.BaseLeaf:
        return ()
    fields = _table().get(owner.__name__)
    if fields is None:
        raise TypeError(f"no child order known for libcst node {owner.__name__}")
    return tuple(fields)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``node.children`` (its direct child nodes, in source order), without libcst's visitor."""
    found: list[cst.CSTNode] = []
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(item for item in value if isinstance(item, cst.CSTNode))
    return found


@lru_cache(maxsize=None)
def _hooks(visitor_type: type, kind: type) -> tuple[Any, Any, tuple[str, ...]]:
    """The (unbound) ``visit_`` and ``leave_`` methods a visitor class defines for a node type
    (None where it keeps libcst's no-op), and the type's child fields."""
    name = kind.__name__
    before = getattr(visitor_type, f"visit_{name}", None)
    after = getattr(visitor_type, f"leave_{name}", None)
    if before is getattr(CSTTypedVisitorFunctions, f"visit_{name}", None):
        before = None
    if after is getattr(CSTTypedVisitorFunctions, f"leave_{name}", None):
        after = None
    return before, after, child_fields(kind)


def visit(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``root.visit(visitor)`` for a visitor that only reads the tree: the same calls of its
    ``visit_<Type>`` (children skipped when it returns ``False``) and ``leave_<Type>``, on the
    same nodes, in the same order. A visitor with per-field hooks (``visit_Call_func``) or its
    own ``on_visit``/``on_leave`` is refused: this walk does not call them."""
    visitor_type = type(visitor)
    _check_visitor(visitor_type)
    hooks: dict[type, tuple[Any, Any, tuple[str, ...]]] = {}

    def walk(node: cst.CSTNode) -> None:
        kind = type(node)
        found = hooks.get(kind)
        if found is None:
            found = hooks[kind] = _hooks(visitor_type, kind)
        before, after, fields = found
        if before is None or before(visitor, node) is not False:
            for name in fields:  # each holds a node, a sequence of nodes, None or a MaybeSentinel
                value = getattr(node, name)
                held = type(value)
                if held is tuple or held is list:
                    for item in value:
                        walk(item)
                elif value is not None and held is not MaybeSentinel:
                    walk(value)
        if after is not None:
            after(visitor, node)

    walk(root)


@lru_cache(maxsize=None)
def _check_visitor(visitor_type: type) -> None:
    for owner in visitor_type.__mro__:
        if owner in (cst.CSTVisitor, CSTTypedVisitorFunctions) or owner.__module__.startswith("libcst."):
            break
        for name in owner.__dict__:
            if name in ("on_visit", "on_leave", "on_visit_attribute", "on_leave_attribute") \
                    or _ATTRIBUTE_HOOK.match(name):
                raise TypeError(f"{visitor_type.__name__}.{name}: walk.visit calls only visit_<Type>/leave_<Type>")
