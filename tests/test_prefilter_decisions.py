"""The engine's prefilter decides as the plain way does: CPython's tree of every piece of every
text that mentions a trigger, ``ast.walk`` over it for the calls and the chains.

The engine only builds the tree where the characters say a trigger may be called
(``Prefilter.may_call``), checks the other texts with CPython's symbol table (``parsing._accepted``),
and walks a tree once, for the calls and the chains together, reading only the fields that can
hold nodes (``ast_walk``). None of that may change which files are parsed, where they are cut,
which are refused for a long chain, or which go to libcst for a LORA000.
"""
from __future__ import annotations

import ast
import copy
import importlib.util
import sysconfig
from pathlib import Path

import pytest

from lint_rules import parsing
from lint_rules.ast_walk import CHILDREN
from lint_rules.engine import Linter, linter_for
from lint_rules.errors import LintError
from lint_rules.prefilter import Prefilter, _string_names, loaded_id
from lint_rules.suppression import ALL, file_exemptions

# versions under which every rule can report: its prefilters hold every rule's triggers
ANY = {"target-peft-version": ">=0.10", "target-transformers-version": ">=4.40"}

_LINKS = {ast.BinOp: ("left", "right"), ast.Attribute: ("value",), ast.Subscript: ("value",), ast.Call: ("func",)}


class PlainScan:
    """The scan as ``ast.walk`` reads it: the oracle."""

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter
        self.called: set[str] = set()
        self.passed: set[str] = set()
        self.aliases: set[str] = set()
        self.loads_static = False
        self.load_names: set[str] = set()
        self.strings: set[str] = set()
        self.chain = 0

    def add(self, tree: ast.AST) -> None:
        names, loads = self.prefilter.names or frozenset(), self.prefilter.loads
        runs: dict[int, int] = {}
        for node in ast.walk(tree):
            links = _LINKS.get(type(node))
            if links is not None:
                run = runs.pop(id(node), 0) + 1
                self.chain = max(self.chain, run)
                for name in links:
                    if type(getattr(node, name)) in _LINKS:
                        runs[id(getattr(node, name))] = run
            if isinstance(node, ast.Call):
                func = node.func
                while isinstance(func, ast.Attribute):
                    self.called.add(func.attr)
                    func = func.value
                if isinstance(func, ast.Name):
                    self.called.add(func.id)
                self.passed.update(k.arg for k in node.keywords if k.arg)
                if loads:
                    self._load(node)
            elif isinstance(node, ast.alias) and node.asname and node.name.rpartition(".")[2] in names:
                self.aliases.add(node.asname)
            elif loads:
                self.strings.update(_string_names(node))

    def _load(self, node: ast.Call) -> None:
        first = loaded_id(node, self.prefilter.loads)
        if isinstance(first, ast.Constant):
            self.loads_static = True
        elif isinstance(first, ast.Name):
            self.load_names.add(first.id)

    def found(self) -> bool:
        p = self.prefilter
        seen = self.called | self.passed
        hits = (self.called & (p.names or frozenset())) | (self.passed & p.keywords)
        return any(name not in p.needs or any(seen & also for also in p.needs[name]) for name in hits) \
            or bool(self.called & self.aliases) or self.loads_static or bool(self.load_names & self.strings)


def plain_decision(prefilter: Prefilter, source: str) -> tuple:
    """What the engine must decide: ("skipped",), ("parsed", cuts, chain) or ("refused", chain)."""
    names, needs, loads = (prefilter.names or frozenset()) | prefilter.keywords, prefilter.needs, prefilter.loads
    if not any(name in source and (name not in needs or any(any(n in source for n in also) for also in needs[name]))
               for name in names) and not ("from_pretrained" in source and any(k in source for k in loads)):
        return ("skipped",)
    if ALL in file_exemptions(source):
        return ("skipped",)
    scan = PlainScan(prefilter)
    pieces = parsing.split(source, scan.add, chains=False)
    if pieces is None:
        try:
            tree = compile(source, "<plain>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return ("parsed", None, 0)
        whole = PlainScan(prefilter)
        whole.add(tree)
        return ("parsed", None, 0) if whole.found() else ("skipped",)
    if not scan.found():
        return ("skipped",)
    if scan.chain > parsing.MAX_CHAIN:
        return ("refused", scan.chain)
    return ("parsed", pieces.cuts, scan.chain)


class _Parsed(Exception):
    pass


def engine_decision(linter: Linter, source: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """What ``Linter._check`` decides, stopped where libcst would start."""
    def parse(self: Linter, text: str, pieces: parsing.Pieces | None) -> None:
        raise _Parsed(pieces)

    with monkeypatch.context() as patch:
        patch.setattr(Linter, "_parse", parse)
        patch.setattr("lint_rules.engine.nesting_error", lambda text: None)
        try:
            linter._check(source, "x.py", None)
        except _Parsed as parsed:
            pieces = parsed.args[0]
            return ("parsed", None, 0) if pieces is None else ("parsed", pieces.cuts, pieces.chain)
        except LintError as refused:
            assert "chains" in str(refused)
            return ("refused", int(str(refused).split("chains ")[1].split(" ")[0].replace(",", "")))
    return ("skipped",)


def _with(prefilter: Prefilter) -> Linter:
    linter = copy.copy(linter_for(ANY))
    linter.prefilter = linter._every_rule = prefilter  # texts with a PEP 723 block use the second
    return linter


def _mentioning(root: Path, words: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if any(w in p.read_text(encoding="utf-8", errors="replace")
                                                       for w in words))


def _package(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates the installed package without importing it
    assert spec is not None and spec.origin, f"{name} is installed by the test extras (make test)"
    return Path(spec.origin).parent


# Triggers of the default rules, as --select narrows them, and the names the training rules need
PREFILTERS = {"every rule": linter_for(ANY).prefilter, "LORA201": linter_for(ANY, select=["LORA201"]).prefilter,
              "LORA301": linter_for(ANY, select=["LORA301"]).prefilter,
              "config rules": linter_for(ANY).config_prefilter}


@pytest.mark.slow
@pytest.mark.parametrize("package", ["peft", "trl", "transformers"])
def test_real_packages_are_decided_as_the_plain_walk_decides(package, monkeypatch):
    """Every file of the installed package that names a trigger or a load keyword (peft 0.17-0.18:
    all of its files that use it; transformers: 123 of 2,912)."""
    words = tuple({w for p in PREFILTERS.values() for w in (p.names or ())} | {"trust_remote_code"})
    paths = _mentioning(_package(package), words)
    assert len(paths) > 20
    for path in paths:
        source = path.read_text(encoding="utf-8", errors="replace")
        for name, prefilter in PREFILTERS.items():
            linter = _with(prefilter)
            assert engine_decision(linter, source, monkeypatch) == plain_decision(prefilter, source), (path, name)


# Common names as triggers: their uses in strings, comments, definitions, attributes and keywords of
# the standard library's own code put the text test through every context a name can stand in
COMMON = {
    "words": Prefilter(frozenset({"result", "value", "string", "module", "function", "object", "append"})),
    "keywords and needs": Prefilter(frozenset({"default", "name"}),
                                    needs={"name": (frozenset({"get", "items"}),), "key": (frozenset({"sorted"}),)},
                                    keywords=frozenset({"encoding", "key"})),
    "classes and aliases": Prefilter(frozenset({"OrderedDict", "namedtuple", "Path", "partial", "wraps"})),
}


def _stdlib() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.glob("*.py"))[::3]


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMON)
def test_the_standard_library_is_decided_as_the_plain_walk_decides(name, monkeypatch):
    prefilter = COMMON[name]
    linter = _with(prefilter)
    ways = set()
    for path in _stdlib():
        source = path.read_text(encoding="utf-8", errors="replace")
        decided = engine_decision(linter, source, monkeypatch)
        assert decided == plain_decision(prefilter, source), path
        if prefilter.mentions(source):
            ways.add((decided[0], prefilter.may_call(source)))
    # of the texts that name a trigger: parsed; skipped on the characters; skipped after the walk
    assert ways == {("parsed", True), ("skipped", False), ("skipped", True)}, ways


def test_the_fast_walk_reaches_every_node_but_operators_and_contexts():
    """``CHILDREN`` leaves out only fields that hold no node with children."""
    leaves = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
    for path in [*_stdlib()[:40], Path(ast.__file__), Path(parsing.__file__)]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack: list = [tree]
        seen = []
        while stack:
            node = stack.pop()
            seen.append(node)
            for field in CHILDREN.get(type(node), ()):
                value = getattr(node, field)
                stack.extend(value) if isinstance(value, list) else stack.append(value)
        nodes = [n for n in seen if isinstance(n, ast.AST)]
        assert sorted(map(id, nodes)) == sorted(id(n) for n in ast.walk(tree) if not isinstance(n, leaves)), path
