"""``analysis.walk``: the same visitor calls as libcst's ``node.visit``, without rebuilding nodes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from lint_rules.analysis import walk
from lint_rules.analysis.index import FileIndex

ROOT = Path(__file__).resolve().parents[1]

# every kind of statement and expression libcst has a node for, with comments in odd places
RARE_SYNTAX = '''\
# header comment
from __future__ import annotations
import os.path as osp, sys  # trailing
from . import (a,  # inside
    b as c)
from .. x import *
@decorator(arg)  # on the decorator
@other
async def f[T: int, *Ts, **P](x: int = 1, /, y=2, *args: T, z, w=3, **kw) -> "T":
    global G
    nonlocal_ = lambda q=1, *r, s, **t: q
    async with a as (b, c), d:
        async for i in aiter():
            await g(i)
    yield from h
    return (yield)

class C(Base, metaclass=M):
    """doc"""
    x: int = 1
    def m(self): nonlocal_x = 1; return self
type Alias[K] = dict[K, list[int]]
try:
    pass
except* (ValueError, TypeError) as e:
    raise RuntimeError("x") from e
else:
    pass
finally:
    del a[1:2:3], b.c
match command.split():
    case [action, *rest] if action in {"go", "run"}:
        pass
    case {"k": 1, **others}:
        pass
    case Point(x=0, y=0) | None as p:
        pass
    case _:
        pass
while (n := next(it)) is not None:
    assert n, f"{n!r:>{width}.{prec}} {n=} {{literal}}"
    if not n: break
    elif n < 0: continue
    else: x = [i ** 2 for i in range(n) if i % 2 for j in k]
print(*args, sep="", **kw); y = {k: v for k, v in d.items()}; z = {1, 2}; t = (1,)
with open("f") as fh, open("g"):
    data = fh.read()[::-1]
s = b"bytes" rb"concat", "str" r"raw" f"""triple {x}"""
value = -a + ~b * c @ d // e % f - (g << h >> i & j | k ^ l) if cond and not other or third else ...
for (a, b), *c in pairs: pass
'''


class Recorder(cst.CSTVisitor):
    """libcst's side: every node entered and left, by identity."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


def _walk_events(module: cst.Module) -> list[tuple[str, int]]:
    """walk.visit's side, through a visitor defining visit_/leave_ for every node type."""
    events: list[tuple[str, int]] = []
    names = {kind.__name__ for kind in vars(cst).values() if isinstance(kind, type) and issubclass(kind, cst.CSTNode)}
    methods = {f"visit_{name}": (lambda self, node: events.append(("visit", id(node)))) for name in names}
    methods |= {f"leave_{name}": (lambda self, node: events.append(("leave", id(node)))) for name in names}
    walk.visit(module, type("Everything", (cst.CSTVisitor,), methods)())
    return events


def _sources() -> list[tuple[str, str]]:
    files = sorted((ROOT / "lint_rules" / "analysis").glob("*.py")) + [ROOT / "lint_rules" / "engine.py"]
    return [("rare syntax", RARE_SYNTAX)] + [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in files]


@pytest.mark.parametrize(("name", "source"), _sources(), ids=lambda v: v if len(v) < 60 else "")
def test_the_walk_makes_libcsts_calls_on_the_same_nodes_in_the_same_order(name: str, source: str) -> None:
    module = cst.parse_module(source)
    recorder = Recorder()
    module.visit(recorder)
    assert len(recorder.events) > 100
    assert _walk_events(module) == recorder.events


def test_children_are_libcsts_children() -> None:
    module = cst.parse_module(RARE_SYNTAX)
    stack: list[cst.CSTNode] = [module]
    seen = 0
    while stack:
        node = stack.pop()
        assert [id(c) for c in walk.children(node)] == [id(c) for c in node.children]
        stack.extend(node.children)
        seen += 1
    assert seen > 500


def test_a_false_from_visit_skips_the_children_and_leave_still_runs() -> None:
    module = cst.parse_module("f(g(1))\n")

    class Outer(cst.CSTVisitor):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def visit_Call(self, node: cst.Call) -> bool:
            self.seen.append(f"visit {cst.Module([]).code_for_node(node)}")
            return False

        def leave_Call(self, original_node: cst.Call) -> None:
            self.seen.append("leave")

    theirs, ours = Outer(), Outer()
    module.visit(theirs)
    walk.visit(module, ours)
    assert ours.seen == theirs.seen == ["visit f(g(1))", "leave"]


def test_a_visitor_with_hooks_the_walk_does_not_call_is_refused() -> None:
    class PerField(cst.CSTVisitor):
        def visit_Call_func(self, node: cst.Call) -> None:
            pass

    with pytest.raises(TypeError, match="visit_Call_func"):
        walk.visit(cst.parse_module("f()\n"), PerField())


def test_the_index_is_built_from_the_same_calls() -> None:
    """FileIndex built by the walk equals one built by libcst's visit (calls, bindings, names)."""
    source = (ROOT / "lint_rules" / "analysis" / "flow.py").read_text(encoding="utf-8") + RARE_SYNTAX.split("type Alias")[0]
    module = cst.parse_module(source)
    theirs = FileIndex()
    module.visit(theirs)
    ours = FileIndex.build(module)
    assert [id(site.node) for site in ours.calls] == [id(site.node) for site in theirs.calls]
    assert [(s.scope.kind, s.order) for s in ours.calls] == [(s.scope.kind, s.order) for s in theirs.calls]
    assert {name: [(b.kind, b.order) for b in bs] for name, bs in ours.all_bindings.items()} == \
        {name: [(b.kind, b.order) for b in bs] for name, bs in theirs.all_bindings.items()}
    assert ours.name_counts == theirs.name_counts and len(ours.calls) > 100


def test_every_libcst_node_type_has_a_child_order() -> None:
    kinds = [kind for kind in vars(cst).values() if isinstance(kind, type) and issubclass(kind, cst.CSTNode)
             and not getattr(kind, "__abstractmethods__", None)]
    assert len(kinds) > 150
    for kind in kinds:
        walk.child_fields(kind)  # raises for a type without one


def test_the_stored_order_is_the_installed_libcsts() -> None:
    stored = json.loads(walk.TABLE.read_text(encoding="utf-8"))
    assert stored["fields"] == walk.derive_child_fields()
    assert stored["libcst"] == walk.LIBCST_VERSION
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_child_fields.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_call_order_of_a_node_is_read_from_libcsts_source() -> None:
    """The fields are libcst's visiting order, not the dataclass's (a decorator before the name,
    an ``if`` expression's body before its test)."""
    fields = walk.derive_child_fields()
    assert fields["FunctionDef"].index("decorators") < fields["FunctionDef"].index("name")
    assert fields["IfExp"].index("body") < fields["IfExp"].index("test")
    assert "format_spec" in fields["FormattedStringExpression"]  # visited only when present


def test_under_another_libcst_the_order_is_derived(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "LIBCST_VERSION", "0.0-other")
    walk._table.cache_clear()
    try:
        assert walk._table() == walk.derive_child_fields()
    finally:
        walk._table.cache_clear()
