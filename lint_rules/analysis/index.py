"""One pass over a module: scopes, bindings and imports from the file's own statements,
every call with its scope and whether a runtime version check guards it, and
``# lora-lint: model=`` pragmas.

This replaces libcst's ScopeProvider/QualifiedNameProvider, the largest cost on big
files: the rules only need names bound by this file's imports and simple assignments.
Anything this index cannot prove (several bindings, ``global`` rebinding, a mutated
container, a function default a caller may override) resolves to ``UNKNOWN``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import libcst as cst

from . import walk
from .guards import chain_tests, names_in, terminates, version_test
from .nodes import subnodes
from .values import UNKNOWN, evaluate

PRAGMA_RE = re.compile(r"#\s*lora-lint:\s*model\s*=\s*([^\s#]+)")
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
_KEYWORD_ERRORS = {"TypeError"}  # what an unknown keyword raises
_BROAD_ERRORS = {"Exception", "BaseException"}  # catch it too, among everything else
_IN_PLACE = {"add", "append", "extend", "insert", "update", "setdefault", "pop", "popitem", "remove",
             "discard", "clear", "sort", "reverse", "__setitem__", "__delitem__"}  # container methods
_CONTAINERS = {"dict", "list", "tuple", "set", "frozenset"}
_SKIP_DECORATORS = {"skipif", "skipIf", "skipUnless"}  # pytest / unittest markers
_EXIT_CALLS = {"exit", "_exit", "quit"}  # sys.exit(), os._exit(), exit()
_ATTRIBUTE_ERRORS = {"AttributeError", "Exception", "BaseException"}  # what a missing attribute raises


@dataclass(eq=False)
class Block:
    """Statements that run as a whole once entered: a scope's body, one arm of an ``if``,
    ``match`` or ``try`` (its body, a handler, its ``else``), a loop's body. ``start`` and
    ``end`` are orders; ``exits``: it always ends by returning, raising or exiting."""

    parent: "Block | None"
    kind: str  # "body" | "arm" | "loop" | "try"
    start: int = 0
    end: int = 0
    exits: bool = False
    depth: int = 0
    compounds: list["Compound"] = field(default_factory=list)  # the if/try statements directly in it
    choice: object | None = None  # the if/elif/else chain or match it is one arm of (one arm runs)

    def inside(self, other: "Block") -> bool:
        """Whether this block is ``other`` or nested in it."""
        block: Block | None = self
        while block is not None and block.depth > other.depth:
            block = block.parent
        return block is other


@dataclass(eq=False)
class Compound:
    """An ``if``/``elif``/``else`` chain or a ``try``: ``alternatives`` lists, per way through
    it, the blocks that run on that way (a ``try``: its body with its ``else``, each
    handler); an ``if`` without ``else`` has an empty way."""

    alternatives: list[list[Block]]
    end: int = 0


@dataclass(eq=False)
class Binding:
    name: str
    kind: str  # "assign" | "import" | "param" | "function" | "other"
    order: int
    scope: "Scope"
    value: cst.BaseExpression | None = None  # assign: the right-hand side; param: the default
    qualname: str | None = None  # import: the dotted name it binds
    function: cst.FunctionDef | None = None  # param: its function; function: the def
    fallback: bool = False  # bound in an `except ImportError` handler
    block: Block | None = None  # where it is made (None: from another scope, `global`)
    home: "Scope | None" = None  # `global`: the function that makes it, at ``home_block``
    home_block: Block | None = None
    module: str | None = None  # import: the module named (".config", "myproj.settings")
    member: str | None = None  # from-import: the name taken from it (else the module is bound)

    def bound_at(self, scope: "Scope", order: int | None) -> bool:
        """Whether this binding is in effect at ``order`` (None: anywhere) in ``scope``: one
        of an enclosing scope always is, one of ``scope`` itself only once it is made."""
        return self.scope is not scope or order is None or self.order < order


@dataclass(eq=False)
class Scope:
    kind: str  # "module" | "function" | "class" | "lambda"
    parent: "Scope | None"
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    global_names: set[str] = field(default_factory=set)
    nonlocal_names: set[str] = field(default_factory=set)
    star_imports: list[str] = field(default_factory=list)
    version_checked: bool = False  # an `if peft too old: raise` / assert ran before
    root: Block = field(default_factory=lambda: Block(None, "body"))
    exits: list[tuple[int, Block | None, Block]] = field(default_factory=list)  # (order, loop left,
    # where) of each return/raise/exit (loop None) and break/continue (the loop it leaves), in order
    returns: list[tuple[cst.Return, Block, int]] = field(default_factory=list)  # a function's own


@dataclass(eq=False)
class AttributeSite:
    """``name.attribute`` read or assigned where ``name`` is a plain variable.

    ``guarded``: under a runtime version check, or in a ``try`` whose handler catches
    ``AttributeError`` (or broadly). ``probed``: the file asks ``hasattr(name, "attribute")``;
    ``set_here``: the file also assigns this attribute on the name (or any, through
    ``setattr``/``__dict__``), so a read may find it. The last two are filled in by the analysis.
    """

    node: cst.Attribute
    name: str
    scope: "Scope"
    block: "Block | None"
    order: int
    write: bool
    guarded: bool
    probed: bool = False
    set_here: bool = False


@dataclass(eq=False)
class CallSite:
    node: cst.Call
    scope: Scope
    order: int
    guarded: bool  # inside a branch or try-block chosen by a runtime version check
    statement: cst.CSTNode | None  # the enclosing simple statement (line), if any
    block: Block | None = None


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else ``None``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def _through_super(func: cst.BaseExpression) -> bool:
    """``super().name`` (or ``super(Cls, self).name``): the method of a base class."""
    return isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) \
        and isinstance(func.value.func, cst.Name) and func.value.func.value == "super"


def terminal_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _target_names(target: cst.CSTNode) -> Iterable[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _returns(function: cst.FunctionDef | None) -> list[cst.BaseExpression]:
    """The values a function returns (its own ``return`` statements, not nested functions')."""
    found: list[cst.BaseExpression] = []
    stack: list[cst.CSTNode] = [function.body] if function is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Return) and node.value is not None:
            found.append(node.value)
        elif not isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            stack.extend(subnodes(node))
    return found


def always_leaves(suite: cst.BaseSuite) -> bool:
    """Whether a block always ends by returning, raising or exiting the program (an ``if``
    whose every arm does, too); ``break``/``continue`` stay in the function."""
    if not suite.body:
        return False
    last: Any = suite.body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1] if last.body else None
    if isinstance(last, (cst.Return, cst.Raise)):
        return True
    if isinstance(last, cst.Expr) and isinstance(last.value, cst.Call):
        return terminal_name(last.value.func) in _EXIT_CALLS
    arms: list[cst.BaseSuite] = []
    while isinstance(last, cst.If):
        arms.append(last.body)
        last = last.orelse.body if isinstance(last.orelse, cst.Else) else last.orelse
        if last is None:
            return False
    if arms:
        arms.append(last)
    return bool(arms) and all(always_leaves(arm) for arm in arms)


def _imports_peft(body: cst.BaseSuite) -> bool:
    """Whether a block imports from peft (directly, not in a nested def)."""
    stack: list[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative:
            if (dotted(node.module) or "").split(".")[0] == "peft":
                return True
        elif isinstance(node, cst.Import):
            if any((dotted(a.name) or "").split(".")[0] == "peft" for a in node.names):
                return True
        elif not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            stack.extend(subnodes(node))
    return False


def _catches(handler: cst.ExceptHandler, names: set[str]) -> bool:
    if handler.type is None:
        return "BaseException" in names
    types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
    return any(terminal_name(t.value if isinstance(t, cst.Element) else t) in names for t in types)


class FileIndex(cst.CSTVisitor):
    """Build with ``FileIndex.build(module)``; then query names, values and calls."""

    def __init__(self) -> None:
        self.module_scope = Scope("module", None)
        self._scope = self.module_scope
        self._order = 0
        self._block = self.module_scope.root
        self._outer_blocks: list[Block] = []  # the current block of each enclosing scope
        self._suite_blocks: dict[int, Block] = {}  # id(suite) -> the block it opens
        self._compounds: dict[int, Compound] = {}  # id(if/try statement, elif included) -> its compound
        self._loops: list[Block] = []
        self.function_scopes: dict[int, Scope] = {}  # id(FunctionDef) -> its scope
        self.calls: list[CallSite] = []
        self.attribute_sites: list[AttributeSite] = []  # name.attr reads and assignments
        self._stores: set[int] = set()  # id(Attribute) assigned to, not read
        self._unused: set[int] = set()  # id(Attribute) neither read nor assigned (`del`, bare annotation)
        self._safe_blocks: set[int] = set()  # try bodies whose handler catches AttributeError
        self._safe_depth = 0
        self._sites: dict[int, CallSite] | None = None
        self._keywords: set[str] | None = None
        self._names_in: dict[int, frozenset[str]] = {}  # id(expression) -> guards.names_in of it
        self._homed: dict[int, Binding] = {}  # id(global binding) -> it seen from its function
        self._callers: dict[int, list[CallSite] | None] = {}  # id(function scope) -> callers()
        self.calls_by_name: dict[str, list[CallSite]] = {}
        self.name_counts: Counter[str] = Counter()
        self.mutated: set[str] = set()  # names a container may be changed through
        self.attribute_writes: dict[str, set[str]] = {}  # name -> attributes set on it ("*": any;
        # name "": an object reached otherwise, ``configs[0].r = 4``, ``self.config.r = 4``)
        self.all_bindings: dict[str, list[Binding]] = {}  # name -> its bindings in every scope
        self._alias_writes: set[str] | None = None
        self.bound_names: dict[int, list[str]] = {}  # id(call) -> names assigned its result
        self.pragmas: list[tuple[str, cst.CSTNode | None]] = []  # (model, statement)
        self._statements: list[cst.CSTNode] = []
        self._guard_blocks: set[int] = set()
        self._version_ifs: set[int] = set()
        self._guard_depth = 0
        self._expression_guards: list[bool] = []
        self._chain_guards: dict[int, bool] = {}  # id(link of an `and` chain) -> its left is a version check
        self._fallback_handlers: set[int] = set()
        self._fallback_depth = 0
        self._probe_handlers: set[int] = set()  # except ImportError after a peft import
        self._probe_depth = 0
        self._marked = False  # a module-level pytestmark skips the module's tests on other versions
        self.peft_probes: set[str] = set()  # names set when a peft import failed: feature flags

    @classmethod
    def build(cls, module: cst.Module) -> "FileIndex":
        index = cls()
        walk.visit(module, index)
        return index

    # -- queries ---------------------------------------------------------------------

    def site_of(self, node: cst.Call) -> CallSite | None:
        """The recorded site of a call node of this module."""
        if self._sites is None:
            self._sites = {id(site.node): site for site in self.calls}
        return self._sites.get(id(node))

    def names_in(self, expr: cst.CSTNode) -> frozenset[str]:
        """``guards.names_in(expr)`` for an expression of this module, computed once."""
        found = self._names_in.get(id(expr))
        if found is None:
            found = self._names_in[id(expr)] = names_in(expr)
        return found

    def passed_keywords(self) -> set[str]:
        """Every keyword name a call of this module passes (``f(tie_word_embeddings=False)``)."""
        if self._keywords is None:
            self._keywords = {arg.keyword.value for site in self.calls for arg in site.node.args
                              if arg.keyword is not None}
        return self._keywords

    def at_home(self, binding: Binding) -> Binding:
        """A ``global`` binding as the function that makes it sees it: in that function's scope,
        at its place there (the same object each time)."""
        found = self._homed.get(id(binding))
        if found is None:
            assert binding.home is not None
            found = replace(binding, scope=binding.home, block=binding.home_block)
            self._homed[id(binding)] = found
        return found

    def callers(self, function: Scope) -> list[CallSite] | None:
        """Where a module-level function runs, when that is only at this file's direct calls of
        it (``main()``), each made at module level or in another module-level function; None when
        it is decorated, bound more than once, never called here, or referenced otherwise (a
        callback, ``fire.Fire(main)``: it may run at any time)."""
        key = id(function)
        if key not in self._callers:
            self._callers[key] = self._find_callers(function)
        return self._callers[key]

    def _find_callers(self, function: Scope) -> list[CallSite] | None:
        if function.kind != "function" or function.parent is not self.module_scope:
            return None
        binding = next((b for bs in self.module_scope.bindings.values() for b in bs if b.kind == "function"
                        and b.function is not None and self.function_scopes.get(id(b.function)) is function), None)
        if binding is None or binding.function is None or binding.function.decorators:
            return None
        name = binding.name
        if len(self.all_bindings.get(name, ())) != 1:
            return None
        sites = self.calls_by_name.get(name, [])
        if not sites or self.name_counts[name] != 1 + len(sites):
            return None
        for site in sites:
            if not isinstance(site.node.func, cst.Name) or site.block is None or not (
                    site.scope is self.module_scope or site.scope.kind == "function"
                    and site.scope.parent is self.module_scope):
                return None
        return sites

    def lookup(self, name: str, scope: Scope) -> tuple[Scope, list[Binding]] | None:
        """The scope that binds ``name`` as seen from ``scope``, and its bindings."""
        current: Scope | None = scope
        if name in scope.global_names:
            current = self.module_scope
        while current is not None:
            if current.kind != "class" or current is scope:
                found = current.bindings.get(name)
                if found:
                    return current, found
            current = current.parent
        return None

    def qualname(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        """The dotted name ``expr`` refers to through this file's imports, else ``None``."""
        if isinstance(expr, cst.Attribute):
            base = self.qualname(expr.value, scope)
            return None if base is None else f"{base}.{expr.attr.value}"
        if not isinstance(expr, cst.Name):
            return None
        found = self.lookup(expr.value, scope)
        if found is None:
            stars = self.module_scope.star_imports
            return f"{stars[-1]}.{expr.value}" if stars else None
        names = {b.qualname if b.kind == "import" else None for b in found[1] if not b.fallback}
        return names.pop() if len(names) == 1 else None  # the same import repeated is still one name

    def is_builtin(self, name: str, scope: Scope) -> bool:
        return self.lookup(name, scope) is None and all(
            m == "peft" or m.startswith("peft.") for m in self.module_scope.star_imports
        )

    def binding_of(self, name: cst.Name, scope: Scope) -> Binding | None:
        """The single binding ``name`` can refer to, else ``None``."""
        found = self.lookup(name.value, scope)
        if found is None:
            return None
        bindings = [b for b in found[1] if not b.fallback]
        return bindings[0] if len(bindings) == 1 else None

    def versiony(self, name: str, scope: Scope, depth: int = 0) -> bool:
        """Whether ``name``, seen from ``scope``, is bound once, to a version check
        (``NEW = peft.__version__ >= "0.9"``)."""
        found = self.lookup(name, scope)
        if name in self.peft_probes:  # try: from peft... import X; HAS_X = True / except ImportError
            return True
        if found is None or len(found[1]) != 1:
            return False
        (binding,) = found[1]
        if binding.kind == "function":  # def peft_supports_dora(): return Version(...) >= ...
            return any(version_test(value, lambda _: False, self.names_in) for value in _returns(binding.function))
        if depth > 5:  # names bound to each other
            return False
        return binding.kind == "assign" and version_test(  # DORA_OK = NEW and args.dora
            binding.value, lambda n: self.versiony(n, binding.scope, depth + 1), self.names_in)

    def value_of(self, expr: cst.BaseExpression, scope: Scope, order: int | None = None,
                 _seen: tuple[Binding, ...] = ()) -> Any:
        """The static value of ``expr`` evaluated in ``scope`` (at ``order``), or ``UNKNOWN``."""

        def names(node: cst.Name | cst.Attribute) -> Any:
            if isinstance(node, cst.Name):
                return self._name_value(node.value, scope, order, _seen)
            owner = self.qualname(node.value, scope) or ""
            if owner.startswith("peft.") and owner.endswith(".TaskType"):
                return node.attr.value  # a str enum: TaskType.CAUSAL_LM == "CAUSAL_LM"
            return UNKNOWN

        return evaluate(expr, names, lambda n: self.is_builtin(n, scope))

    def _name_value(self, name: str, scope: Scope, order: int | None,
                    seen: tuple[Binding, ...]) -> Any:
        found = self.lookup(name, scope)
        if found is None or len(found[1]) != 1:
            return UNKNOWN
        (binding,) = found[1]
        if binding in seen or len(seen) > 20:
            return UNKNOWN
        if not binding.bound_at(scope, order):
            return UNKNOWN
        if binding.kind == "assign":
            value = self.value_of(binding.value, binding.scope, binding.order, seen + (binding,))
        elif binding.kind == "param" and binding.value is not None and self.default_holds(binding):
            value = self.value_of(binding.value, binding.scope.parent, None, seen + (binding,))
        else:
            return UNKNOWN
        if isinstance(value, (list, dict, set)) and name in self.mutated:
            return UNKNOWN
        return value

    def default_holds(self, param: Binding) -> bool:
        """Whether a parameter provably keeps its default: an undecorated function, called
        in this file, only there, and never with that parameter (one never called here is
        called from elsewhere, with any value). Not a special method's (``Actor(...)`` runs
        ``__init__`` without naming it), nor a method that a ``super().name()`` call shows to
        override another (the uses of its name are then not all its calls)."""
        function = param.function
        if function is None or function.decorators:
            return False
        fname = function.name.value
        is_method = param.scope.parent is not None and param.scope.parent.kind == "class"
        if is_method and fname.startswith("__") and fname.endswith("__"):
            return False
        sites = self.calls_by_name.get(fname, [])
        if not sites or self.name_counts[fname] != 1 + len(sites):
            return False  # referenced otherwise (a callback, a CLI entry point): any value
        params = function.params
        positional = [p.name.value for p in (*params.posonly_params, *params.params)]
        index = positional.index(param.name) if param.name in positional else None
        for site in sites:
            if _through_super(site.node.func):
                return False
            args = site.node.args
            if any(a.star for a in args) or any(
                a.keyword is not None and a.keyword.value == param.name for a in args
            ):
                return False
            count = sum(1 for a in args if a.keyword is None)
            if is_method and isinstance(site.node.func, cst.Attribute):
                count += 1
            if index is not None and count > index:
                return False
        return True

    def alias_writes(self) -> set[str]:
        """Attributes written through names that may be another name for any config (see
        ``may_alias``); a dynamic ``setattr`` through them is not counted."""
        if self._alias_writes is None:
            self._alias_writes = set()
            for name, attributes in self.attribute_writes.items():
                if self.may_alias(name):
                    self._alias_writes |= attributes - {"*"}
        return self._alias_writes

    def may_alias(self, name: str) -> bool:
        """Whether an attribute written through ``name`` may land on any config object: unless
        every binding of ``name`` is an import, a def or another ``LoraConfig(...)``, it may
        be a parameter, loop variable or alias a config reaches (``fix(config)``,
        ``for c in (small, large)``, ``peft_config = config``). ``self``/``cls`` are taken
        to be the instance or class of the method, not a config."""
        if name in ("self", "cls"):
            return False
        bindings = self.all_bindings.get(name)
        if name == "" or not bindings:
            return True
        return not all(b.kind in ("import", "function") or (
            b.kind == "assign" and isinstance(b.value, cst.Call) and terminal_name(b.value.func) == "LoraConfig")
            for b in bindings)

    # -- the pass --------------------------------------------------------------------

    def _bind(self, name: str, kind: str, **details: Any) -> None:
        scope = self._scope
        if name in scope.global_names:
            scope = self.module_scope
        elif name in scope.nonlocal_names:  # rebinds an enclosing function's name: unknown there
            parent = scope.parent
            while parent is not None and parent.kind != "module":
                if parent.kind == "function":
                    binding = Binding(name, "other", self._order, parent)
                    parent.bindings.setdefault(name, []).append(binding)
                    self.all_bindings.setdefault(name, []).append(binding)
                parent = parent.parent
            return
        if self._probe_depth > 0:
            self.peft_probes.add(name)
        self._order += 1
        here = scope is self._scope
        binding = Binding(name, kind, self._order, scope, fallback=self._fallback_depth > 0,
                          block=self._block if here else None, home=None if here else self._scope,
                          home_block=None if here else self._block, **details)
        scope.bindings.setdefault(name, []).append(binding)
        self.all_bindings.setdefault(name, []).append(binding)
        if kind == "assign" and isinstance(details["value"], cst.Call):
            self.bound_names.setdefault(id(details["value"]), []).append(name)

    def _bind_all(self, target: cst.CSTNode) -> None:
        for name in _target_names(target):
            self._bind(name, "other")

    def _write_attributes(self, target: cst.CSTNode) -> None:
        """Record ``name.attr`` among assignment or ``del`` targets: the object changes."""
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Attribute):
            self._write_attributes(target.value)  # config.rank_pattern["q_proj"] = 16
        elif isinstance(target, cst.Attribute):
            owner = target.value.value if isinstance(target.value, cst.Name) else ""
            self._attribute_write(owner, target.attr.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._write_attributes(element.value)
        elif isinstance(target, cst.StarredElement):
            self._write_attributes(target.value)

    def _attribute_write(self, name: str, attribute: str) -> None:
        self.attribute_writes.setdefault(name, set()).add(attribute)

    def _push(self, kind: str) -> Scope:
        self._scope = Scope(kind, self._scope, root=Block(None, "body", start=self._order))
        self._outer_blocks.append(self._block)
        self._block = self._scope.root
        return self._scope

    def _pop(self) -> None:
        self._scope.root.end = self._order
        self._scope = self._scope.parent or self.module_scope
        self._block = self._outer_blocks.pop()

    # -- statement structure (see Block, Compound) ------------------------------------

    def _open(self, suite: cst.BaseSuite | None, kind: str, choice: object | None = None) -> Block | None:
        """Register the block ``suite`` opens when it is visited (a child of the current one)."""
        if suite is None:
            return None
        block = Block(self._block, kind, depth=self._block.depth + 1, choice=choice)
        self._suite_blocks[id(suite)] = block
        return block

    def _compound(self, node: cst.CSTNode, alternatives: list[list[Block]]) -> Compound:
        compound = Compound(alternatives)
        self._block.compounds.append(compound)
        self._compounds[id(node)] = compound
        return compound

    def _leave_compound(self, node: cst.CSTNode) -> None:
        compound = self._compounds.pop(id(node), None)
        if compound is not None:
            compound.end = self._order

    def _exit(self, loop: Block | None) -> None:
        self._order += 1
        self._scope.exits.append((self._order, loop, self._block))

    def leave_Return(self, original_node: cst.Return) -> None:
        self._exit(None)  # after its value: a call in `return f(x)` runs before it returns
        self._scope.returns.append((original_node, self._block, self._order))

    def leave_Raise(self, original_node: cst.Raise) -> None:
        self._exit(None)

    def visit_Break(self, node: cst.Break) -> None:
        self._exit(self._loops[-1] if self._loops else None)

    def visit_Continue(self, node: cst.Continue) -> None:
        self._exit(self._loops[-1] if self._loops else None)

    def leave_If(self, original_node: cst.If) -> None:
        self._leave_compound(original_node)

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(self._open(node.body, "loop"))
        self._open(node.orelse.body if node.orelse is not None else None, "arm")

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop()

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop()

    def leave_Try(self, original_node: cst.Try) -> None:
        self._leave_compound(original_node)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self._try_blocks(node)

    def leave_TryStar(self, original_node: cst.TryStar) -> None:
        self._leave_compound(original_node)

    def _try_blocks(self, node: cst.Try | cst.TryStar) -> None:
        body = [self._open(node.body, "try")]
        if node.orelse is not None:
            body.append(self._open(node.orelse.body, "arm"))
        self._compound(node, [body, *([self._open(h.body, "arm")] for h in node.handlers)])

    def visit_Match(self, node: cst.Match) -> None:
        for case in node.cases:
            self._open(case.body, "arm", node)

    def _enter_block(self, node: cst.BaseSuite) -> None:
        block = self._suite_blocks.get(id(node))
        if block is not None:
            block.start = self._order
            self._block = block
        if id(node) in self._guard_blocks:
            self._guard_depth += 1
        if id(node) in self._safe_blocks:
            self._safe_depth += 1
        if id(node) in self._fallback_handlers:
            self._fallback_depth += 1
        if id(node) in self._probe_handlers:
            self._probe_depth += 1

    def _leave_block(self, node: cst.BaseSuite) -> None:
        block = self._suite_blocks.pop(id(node), None)
        if block is not None and block.parent is not None:
            block.end = self._order
            block.exits = always_leaves(node)
            self._block = block.parent
        if id(node) in self._guard_blocks:
            self._guard_depth -= 1
        if id(node) in self._safe_blocks:
            self._safe_depth -= 1
        if id(node) in self._fallback_handlers:
            self._fallback_depth -= 1
        if id(node) in self._probe_handlers:
            self._probe_depth -= 1

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._enter_block(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self._leave_block(original_node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._enter_block(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self._leave_block(original_node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._statements.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind(node.name.value, "function", function=node)
        scope = self._push("function")
        self.function_scopes[id(node)] = scope
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            self._order += 1
            binding = Binding(param.name.value, "param", self._order, scope, value=param.default,
                              function=node, block=scope.root)
            scope.bindings.setdefault(param.name.value, []).append(binding)
            self.all_bindings.setdefault(param.name.value, []).append(binding)
        for param in (params.star_arg, params.star_kwarg):
            if isinstance(param, cst.Param):
                self._bind(param.name.value, "other")
        self._skip_marks(node, scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._push("lambda")
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params,
                      params.star_arg, params.star_kwarg):
            if isinstance(param, cst.Param):
                self._bind(param.name.value, "other")

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name.value, "other")
        self._skip_marks(node, self._push("class"))

    def _skip_marks(self, node: cst.FunctionDef | cst.ClassDef, scope: Scope) -> None:
        """``@pytest.mark.skipif(<version check>)``, ``@unittest.skipIf(...)``: the body runs
        only on the versions the check allows."""
        if self._marked and scope.parent is self.module_scope:
            scope.version_checked = True
        for decorator in node.decorators:
            expr = decorator.decorator
            name = terminal_name(expr.func) if isinstance(expr, cst.Call) else None
            if name is not None and (name in _SKIP_DECORATORS or "version" in name.lower()) \
                    and version_test(expr, self._versiony_name, self.names_in):
                scope.version_checked = True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._pop()

    def visit_Global(self, node: cst.Global) -> None:
        self._scope.global_names.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self._scope.nonlocal_names.update(n.name.value for n in node.names)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None:
                self._bind_as(alias.asname, full, full, None)
            else:
                first = full.split(".")[0]
                self._bind(first, "import", qualname=first, module=first)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = dotted(node.module) if node.module is not None else ""
        module = "." * len(node.relative) + (module or "")
        if isinstance(node.names, cst.ImportStar):
            self._scope.star_imports.append(module)
            return
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else None
            if name is None:
                continue
            full = f"{module}.{name}"
            if alias.asname is not None:
                self._bind_as(alias.asname, full, module, name)
            else:
                self._bind(name, "import", qualname=full, module=module, member=name)

    def _bind_as(self, asname: cst.AsName, full: str, module: str, member: str | None) -> None:
        if isinstance(asname.name, cst.Name):
            self._bind(asname.name.value, "import", qualname=full, module=module, member=member)

    def _mark(self, target: cst.CSTNode, into: set[int]) -> None:
        if isinstance(target, cst.Attribute):
            into.add(id(target))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._mark(element.value, into)
        elif isinstance(target, cst.StarredElement):
            self._mark(target.value, into)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark(node.target, self._stores if node.value is not None else self._unused)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._mark(target.target, self._stores)
        if isinstance(node.value, cst.Name):
            self.mutated.add(node.value.value)  # an alias may change the container

    def leave_Assign(self, original_node: cst.Assign) -> None:
        if self._scope is self.module_scope and any(
                isinstance(t.target, cst.Name) and t.target.value == "pytestmark" for t in original_node.targets) \
                and version_test(original_node.value, self._versiony_name, self.names_in):
            self._marked = True  # pytestmark = pytest.mark.skipif(<version check>): tests defined later
        for target in original_node.targets:
            self._write_attributes(target.target)
            if isinstance(target.target, cst.Name):
                self._bind(target.target.value, "assign", value=original_node.value)
            else:
                self._bind_all(target.target)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        if original_node.value is None:
            return
        self._write_attributes(original_node.target)
        if isinstance(original_node.target, cst.Name):
            self._bind(original_node.target.value, "assign", value=original_node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_all(node.target)
        self._write_attributes(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_all(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind_all(node.target)
        self._loops.append(self._open(node.body, "loop"))
        self._open(node.orelse.body if node.orelse is not None else None, "arm")

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind_all(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind_all(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_all(node.name.name)
        if _catches(node, _IMPORT_ERRORS):
            self._fallback_handlers.add(id(node.body))

    def visit_Del(self, node: cst.Del) -> None:
        self._mark(node.target, self._unused)
        self._bind_all(node.target)
        self._write_attributes(node.target)
        if isinstance(node.target, cst.Subscript) and isinstance(node.target.value, cst.Name):
            self.mutated.add(node.target.value.value)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._bind(node.name.value, "other")

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._bind(node.name.value, "other")

    def visit_Name(self, node: cst.Name) -> None:
        self.name_counts[node.value] += 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Name):
            self.mutated.add(node.value.value)
            if id(node) not in self._unused and node.value.value not in ("self", "cls"):
                self._order += 1
                self.attribute_sites.append(AttributeSite(
                    node, node.value.value, self._scope, self._block, self._order, id(node) in self._stores,
                    self._safe_depth > 0 or self._guarded()))
            if node.attr.value == "__dict__":
                self._attribute_write(node.value.value, "*")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Name):
            self.mutated.add(node.value.value)

    def visit_If(self, node: cst.If) -> None:
        compound = self._compounds.get(id(node))  # an elif: one more way through its chain
        if compound is None:
            compound = self._compound(node, [])
        compound.alternatives.append([self._open(node.body, "arm", compound)])
        if isinstance(node.orelse, cst.If):
            self._compounds[id(node.orelse)] = compound
        else:
            compound.alternatives.append([self._open(node.orelse.body, "arm", compound)] if node.orelse else [])
        if id(node) not in self._version_ifs and not version_test(node.test, self._versiony_name, self.names_in):
            return
        self._guard_blocks.add(id(node.body))
        if isinstance(node.orelse, cst.If):
            self._version_ifs.add(id(node.orelse))
        elif isinstance(node.orelse, cst.Else):
            self._guard_blocks.add(id(node.orelse.body))
        if terminates(node.body):
            self._scope.version_checked = True

    def visit_IfExp(self, node: cst.IfExp) -> None:
        guarded = version_test(node.test, self._versiony_name, self.names_in)  # X(use_dora=True) if NEW else X()
        self._expression_guards.append(guarded)
        self._guard_depth += guarded

    def leave_IfExp(self, original_node: cst.IfExp) -> None:
        self._guard_depth -= self._expression_guards.pop()

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        guarded = self._chain_guards.pop(id(node), None)  # NEW and LoraConfig(use_dora=True)
        if guarded is None and isinstance(node.operator, cst.And):
            links = [node]  # `a and b and c` is `(a and b) and c`: its links, outermost first
            while isinstance(links[-1].left, cst.BooleanOperation) and isinstance(links[-1].left.operator, cst.And):
                links.append(links[-1].left)
            operands = [links[-1].left, *(link.right for link in reversed(links))]
            tests = chain_tests(operands[:-1], self._versiony_name, self.names_in)  # what each link's left checks
            for link, test in zip(reversed(links), tests):
                self._chain_guards[id(link)] = test
            guarded = self._chain_guards.pop(id(node))
        self._expression_guards.append(bool(guarded))
        self._guard_depth += bool(guarded)

    def leave_BooleanOperation(self, original_node: cst.BooleanOperation) -> None:
        self._guard_depth -= self._expression_guards.pop()

    def visit_Assert(self, node: cst.Assert) -> None:
        if version_test(node.test, self._versiony_name, self.names_in):
            self._scope.version_checked = True

    def visit_Try(self, node: cst.Try) -> None:
        self._try_blocks(node)
        if _imports_peft(node.body):
            self._probe_handlers.update(id(h.body) for h in node.handlers if _catches(h, _IMPORT_ERRORS))
        if any(_catches(h, _ATTRIBUTE_ERRORS) for h in node.handlers):
            self._safe_blocks.add(id(node.body))
        if any(_catches(h, _KEYWORD_ERRORS) or (
                _catches(h, _BROAD_ERRORS) and self._builds_lora_config(h.body)) for h in node.handlers):
            self._guard_blocks.add(id(node.body))

    def _builds_lora_config(self, body: cst.BaseSuite) -> bool:
        """Whether a block calls peft's LoraConfig (a broad ``except`` building a fallback
        config handles the TypeError of a too-new keyword; one that only logs does not)."""
        stack: list[cst.CSTNode] = [body]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Call):
                name = self.qualname(node.func, self._scope) or ""
                if name.startswith("peft.") and name.endswith(".LoraConfig"):
                    return True
            stack.extend(subnodes(node))
        return False

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not isinstance(call, cst.Call) or "version" not in (terminal_name(call.func) or "").lower():
            return
        for arg in call.args:  # require_version("peft>=0.9") and the like
            value = self.value_of(arg.value, self._scope)
            if isinstance(value, str) and "peft" in value:
                self._scope.version_checked = True

    def leave_Call(self, original_node: cst.Call) -> None:
        if terminal_name(original_node.func) in _EXIT_CALLS:
            self._exit(None)  # sys.exit(main()): main() runs first

    def _guarded(self) -> bool:
        """Whether code here runs only on some peft versions."""
        guarded = self._guard_depth > 0
        scope: Scope | None = self._scope
        while scope is not None and not guarded:
            guarded = scope.version_checked
            scope = scope.parent
        return guarded

    def visit_Call(self, node: cst.Call) -> None:
        self._order += 1
        guarded = self._guarded()
        site = CallSite(node, self._scope, self._order, guarded,
                        self._statements[-1] if self._statements else None, self._block)
        self.calls.append(site)
        if terminal_name(node.func) == "importorskip" and any(
                a.keyword is not None and a.keyword.value == "minversion" for a in node.args) \
                and node.args and self.value_of(node.args[0].value, self._scope) == "peft":
            self._scope.version_checked = True  # pytest.importorskip("peft", minversion="0.9")
        name = terminal_name(node.func)
        if name is not None:
            self.calls_by_name.setdefault(name, []).append(site)
        keeps = self._keeps_arguments(node)
        for arg in node.args:
            if not arg.star and isinstance(arg.value, cst.Name) and (arg.keyword is None or not keeps):
                self.mutated.add(arg.value.value)  # the callee may change a container it is given
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in _IN_PLACE \
                and isinstance(node.func.value, cst.Attribute):
            self._write_attributes(node.func.value)  # config.target_modules.add("c_attn")
        if name in ("setattr", "vars") and isinstance(node.func, cst.Name) and node.args \
                and isinstance(node.args[0].value, cst.Name):  # setattr(config, "r", 4)
            attribute = self.value_of(node.args[1].value, self._scope) \
                if name == "setattr" and len(node.args) > 1 else None
            self._attribute_write(node.args[0].value.value, attribute if isinstance(attribute, str) else "*")

    def _keeps_arguments(self, node: cst.Call) -> bool:
        """Calls known not to change containers given by keyword: peft's LoraConfig and the
        builtin container constructors (``dict(target_modules=TARGETS)``)."""
        if isinstance(node.func, cst.Name) and node.func.value in _CONTAINERS:
            return self.is_builtin(node.func.value, self._scope)
        name = self.qualname(node.func, self._scope) or ""
        return name.startswith("peft.") and name.endswith(".LoraConfig")

    def visit_Comment(self, node: cst.Comment) -> None:
        match = PRAGMA_RE.search(node.value)
        if match:
            self.pragmas.append((match.group(1), self._statements[-1] if self._statements else None))

    def _versiony_name(self, name: str) -> bool:
        return self.versiony(name, self._scope)
