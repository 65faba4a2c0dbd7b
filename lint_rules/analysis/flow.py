"""Which definitions of a name can reach a use, and where a value traced through them is made.

``reaching`` is reaching definitions over the statement structure the index records
(``Block``, ``Compound``): straight-line code, ``if``/``elif``/``else``, ``match``, ``try``
and loops (a definition later in a loop body reaches an earlier use through the next
iteration). ``trace`` follows an expression back through names, helper functions of the
file (their ``return`` values, with the call's arguments for their parameters) and imports
of the project's own modules (``modules.py``) to the expressions that make the value.

Both say how sure they are. A ``Reach`` is *complete* when no path reaches the use with
a definition it does not list, or with none. An ``Origin`` is *straight* when the use
follows it with no branch decision in between (no ``if`` arm, loop iteration, early
``return``/``raise``/``break``): whatever chose it cannot also choose what happens at the
use. Conditions are never evaluated, so two values that vary on different paths are only
known to meet when one of them is the same on every path or both are straight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import libcst as cst

from .index import Binding, Block, CallSite, FileIndex, Scope, always_leaves

from .modules import MAX_DEPTH

if TYPE_CHECKING:
    from .modules import ModuleReader

END = 1 << 62  # the order of "after the last statement"
_MAX_STEPS = 400  # per trace: enough for real code, bounded on pathological code
_MAX_CALLS = 4  # helper functions entered within one another
_MAX_NESTING = 100  # names, values and helpers followed within one another (each a few frames)


@dataclass(frozen=True)
class Point:
    """A place in a file: names are resolved as they are bound there. ``block``/``order``
    ``None``: anywhere in ``scope`` (a parameter's default, evaluated when the function is defined)."""

    scope: Scope
    block: Block | None
    order: int | None

    @classmethod
    def of(cls, site: CallSite) -> "Point":
        return cls(site.scope, site.block, site.order)

    @classmethod
    def after(cls, binding: Binding) -> "Point":
        """Where a binding's value is evaluated (an assignment's right-hand side)."""
        return cls(binding.scope, binding.block, binding.order)

    @classmethod
    def end(cls, index: FileIndex) -> "Point":
        """After a module's last statement: what another module imports from it."""
        return cls(index.module_scope, index.module_scope.root, END)


@dataclass(frozen=True)
class Definition:
    binding: Binding
    straight: bool


@dataclass(frozen=True)
class Reach:
    """The definitions that can reach a use; ``complete``: no other (nor none) can."""

    definitions: tuple[Definition, ...]
    complete: bool


def reaching(index: FileIndex, name: str, at: Point, _entering: tuple[int, ...] = ()) -> Reach:
    """The definitions of ``name`` that can reach ``at``."""
    found = index.lookup(name, at.scope)
    if found is None:
        return Reach((), False)  # a builtin, a star import, or unbound
    scope, bindings = found
    if scope is index.module_scope and at.scope is not scope and at.block is not None:
        entered = _global_reach(index, name, bindings, at, _entering)
        if entered is not None:
            return entered
    if scope is not at.scope or at.block is None or at.order is None:
        # an enclosing scope's name (or one read at no known point): any of its values may
        # be current when the function runs, and each may be followed by any code
        if len(bindings) == 1 and bindings[0].block is not None:
            return Reach((Definition(bindings[0], True),), True)
        return Reach(tuple(Definition(b, False) for b in bindings), True)
    return _reach_in(bindings, at, index)


def _reach_in(bindings: list[Binding], at: Point, index: FileIndex | None = None) -> Reach:
    """``reaching`` among ``bindings`` of ``at``'s own scope."""
    assert at.block is not None and at.order is not None
    last = _last_on_every_path(bindings, at)
    live: list[Definition] = []
    for binding in bindings:
        if binding.block is None:  # bound by another function (`global`): at any time it may have run
            if index is None or binding.home is None or _may_have_run(index, binding.home, at):
                live.append(Definition(binding, False))
        elif binding.order < at.order:
            if binding.order >= last and not _dead(binding.block, at.block):
                live.append(Definition(binding, _straight(binding, at)))
        else:
            loop = _common_loop(binding.block, at.block)
            if loop is not None and not _dead(binding.block, loop) \
                    and not _killed_around(binding, bindings, at, loop):
                live.append(Definition(binding, False))  # through the next iteration
    return Reach(tuple(live), last > -1 or _covered(bindings, at))


def _global_reach(index: FileIndex, name: str, bindings: list[Binding], at: Point,
                  entering: tuple[int, ...]) -> Reach | None:
    """A module-level name read in a module-level function that runs only where this file calls
    it (``FileIndex.callers``): the definitions the function makes itself (``global``) before the
    read, else those that reach each of its calls, as a script runs (module level first, then
    ``main()``). None when the callers are not known (the caller keeps the old reading) or the
    function may have run before (its own ``global`` definitions would carry over)."""
    function = at.scope
    if id(function) in entering:
        return None
    calls = index.callers(function)
    if calls is None:
        return None
    own = [index.at_home(b) for b in bindings if b.block is None and b.home is function]
    inner = _reach_in(own, at) if own else Reach((), False)
    live = {id(d.binding): d for d in inner.definitions}
    for binding in bindings:  # rebound by another function (`global`): at any time
        if binding.block is None and binding.home is not function:
            live.setdefault(id(binding), Definition(binding, False))
    if inner.complete:
        return Reach(tuple(live.values()), True)
    if own and not _runs_once(index, function, entering):
        return None
    start = Binding(name, "other", function.root.start, function, block=function.root)
    straight = len(calls) == 1 and not inner.definitions and _straight(start, at)
    complete = True
    for site in calls:
        seen = index.lookup(name, site.scope)
        if seen is None or seen[0] is not index.module_scope:
            return None  # the caller's own variable of that name
        reach = reaching(index, name, Point.of(site), entering + (id(function),))
        complete = complete and reach.complete
        for definition in reach.definitions:
            if definition.binding.block is None and definition.binding.home is function:
                continue  # made by the function itself, which has not run yet
            if id(definition.binding) not in live:
                live[id(definition.binding)] = Definition(definition.binding, definition.straight and straight)
    return Reach(tuple(live.values()), complete)


def _runs_once(index: FileIndex, function: Scope, entering: tuple[int, ...]) -> bool:
    """Whether a function with known callers runs at most once: called at one place, outside
    any loop, in the module or in a function that runs once."""
    calls = index.callers(function)
    if calls is None or len(calls) != 1 or id(function) in entering:
        return False
    (site,) = calls
    block: Block | None = site.block
    while block is not None:
        if block.kind == "loop":
            return False
        block = block.parent
    return site.scope is index.module_scope or _runs_once(index, site.scope, entering + (id(function),))


def _may_have_run(index: FileIndex, function: Scope, at: Point, depth: int = 0) -> bool:
    """Whether ``function`` may have run before ``at`` (a point of the module level): unless
    each of its calls (``FileIndex.callers``) comes after ``at`` and outside any loop around it."""
    calls = index.callers(function) if depth < _MAX_CALLS else None
    if calls is None:
        return True
    for site in calls:
        if site.scope is index.module_scope:
            assert site.block is not None and at.order is not None and at.block is not None
            if site.order < at.order or _common_loop(site.block, at.block) is not None:
                return True
        elif _may_have_run(index, site.scope, at, depth + 1):
            return True
    return False


def runs_before(index: FileIndex, site: CallSite, use: CallSite, _depth: int = 0) -> bool:
    """Whether the call at ``site`` runs on every path to ``use`` before it: in the use's block or
    one around it, before it; or, for a use in a module-level function with known callers
    (``FileIndex.callers``), before each call of that function."""
    if site.block is None or use.block is None:
        return False
    if site.scope is use.scope:
        return site.order < use.order and use.block.inside(site.block)
    calls = index.callers(use.scope) if _depth < _MAX_CALLS else None
    return bool(calls) and all(runs_before(index, site, call, _depth + 1) for call in calls)


def _last_on_every_path(bindings: list[Binding], at: Point) -> int:
    """The order of the last definition before ``at`` that runs on every path to it (in
    its block or one around it), -1 if none: the earlier ones never reach ``at``."""
    assert at.block is not None and at.order is not None
    last = -1
    for binding in bindings:
        if binding.block is not None and last < binding.order < at.order and at.block.inside(binding.block):
            last = binding.order
    return last


def _killed_around(binding: Binding, bindings: list[Binding], at: Point, loop: Block) -> bool:
    """Another definition runs on every way from ``binding`` through the loop's next iteration
    to ``at``: after it in the iteration, or before ``at``."""
    for other in bindings:
        if other.block is None or not other.block.inside(loop):
            continue
        if other.order > binding.order and binding.block.inside(other.block):
            return True
        if other.order < at.order and at.block.inside(other.block):
            return True
    return False


def _dead(block: Block, until: Block) -> bool:
    """A block between ``block`` and ``until`` always returns or raises: nothing defined
    there gets out to ``until``."""
    while not until.inside(block):
        if block.exits:
            return True
        if block.parent is None:
            return False
        block = block.parent
    return False


def _common_loop(block: Block, other: Block) -> Block | None:
    """The innermost loop body holding both blocks."""
    current: Block | None = other
    while current is not None:
        if current.kind == "loop" and block.inside(current):
            return current
        current = current.parent
    return None


def _straight(binding: Binding, at: Point) -> bool:
    """``at`` follows ``binding`` with no branch decision: ``at`` is in the block that holds
    the definition or one around it, no loop body is left on the way (another iteration
    may choose differently), and nothing returns, raises or breaks out in between."""
    block: Block | None = binding.block
    while block is not None and block is not at.block:
        if block.kind == "loop":
            return False
        block = block.parent
    if block is None:
        return False
    for order, loop, where in at.scope.exits:
        if order >= at.order:
            break
        if order > binding.order and (loop is None or at.block.inside(loop)) \
                and not _exclusive(where, binding.block):
            return False
    return True


def _exclusive(block: Block, other: Block) -> bool:
    """Whether the two blocks are in different arms of one ``if`` chain or ``match``: a
    path through one never runs the other."""
    while block.depth > other.depth:
        block = block.parent  # type: ignore[assignment]
    while other.depth > block.depth:
        other = other.parent  # type: ignore[assignment]
    if block is other:
        return False
    while block.parent is not other.parent:
        block, other = block.parent, other.parent  # type: ignore[assignment]
    return block.choice is not None and block.choice is other.choice


def _covered(bindings: list[Binding], at: Point) -> bool:
    """Whether every path to ``at`` defines the name before it through ``if``/``try``
    statements whose every way defines it (or leaves); a definition in ``at``'s block or
    one around it is ``_last_on_every_path``'s."""
    direct = {id(b.block) for b in bindings if b.block is not None}
    holders: set[int] = set()  # blocks holding a definition, directly or nested
    for binding in bindings:
        block = binding.block
        while block is not None and id(block) not in holders:
            holders.add(id(block))
            block = block.parent
    current: Block | None = at.block
    while current is not None:
        if id(current) in holders and _defines(current, direct, holders, at.order):
            return True
        current = current.parent
    return False


def _defines(block: Block, direct: set[int], holders: set[int], before: int) -> bool:
    """Whether an ``if``/``try`` in ``block`` finished before ``before`` defines the name on
    every way through it."""
    return any(compound.end < before and all(
        any(arm.exits or (id(arm) in holders and (
            id(arm) in direct or _defines(arm, direct, holders, arm.end + 1))) for arm in way)
        for way in compound.alternatives) for compound in block.compounds)


@dataclass(frozen=True)
class Origin:
    """Where a traced value is made: ``node`` evaluated at ``at`` in ``index`` (``node``
    ``None``: a path this analysis cannot follow). ``env``: the arguments of the helper
    calls it was reached through; ``path``: the file, when it is another module."""

    node: cst.BaseExpression | None
    index: FileIndex
    at: Point
    straight: bool
    env: "Env" = ()
    path: str | None = None

    def trace(self, expr: cst.BaseExpression, tracer: "Tracer") -> list["Origin"]:
        """Trace a part of this origin's expression (a call's argument) from the same place."""
        found = tracer.trace(expr, self.index, self.at, self.env, self.path)
        return [o if self.straight else _bent(o) for o in found]


Argument = tuple[cst.BaseExpression | None, FileIndex, Point, "Env", "str | None"]
Env = tuple[tuple[Binding, Argument], ...]  # parameter -> (argument or None: unknown, where)


def _bent(origin: Origin) -> Origin:
    return Origin(origin.node, origin.index, origin.at, False, origin.env, origin.path)


class Tracer:
    """Traces expressions of one file (and the project modules it imports) to their origins.

    ``modules`` reads other files of the project; ``None`` keeps the trace in the file.
    """

    def __init__(self, index: FileIndex, modules: "ModuleReader | None" = None) -> None:
        self.index = index
        self.modules = modules
        self._steps = 0
        self._nesting = 0  # traces and name look-ups under way within one another
        self._same: Callable[[Binding], bool] | None = None
        self._passing: set[int] = set()  # rebindings the trace is going back through

    def origins(self, expr: cst.BaseExpression, site: CallSite,
                same: Callable[[Binding], bool] | None = None) -> list[Origin]:
        """Where the value of ``expr``, an argument of the call at ``site``, can come from.
        ``same(binding)``: the assignment keeps the object it is given under the same name
        (``model = prepare(model)``): the trace goes on to what that name held before."""
        self._steps = 0
        self._nesting = 0
        self._same = same
        self._passing = set()
        return self.trace(expr, self.index, Point.of(site), (), None)

    def name_origins(self, name: str, at: Point) -> list[Origin]:
        """Where the value ``name`` holds at ``at`` in this file can come from."""
        self._steps = 0
        self._nesting = 0
        self._same = None
        self._passing = set()
        return list(self._name(name, self.index, at, (), None, 0))

    def trace(self, expr: cst.BaseExpression, index: FileIndex, at: Point, env: Env,
              path: str | None, calls: int = 0) -> list[Origin]:
        """The origins of ``expr``; one unknown origin past the bounds on steps and nesting
        (a chain of 3,000 names, helpers calling each other), never a ``RecursionError``."""
        self._steps += 1
        if self._steps > _MAX_STEPS or self._nesting >= _MAX_NESTING:
            return [Origin(None, index, at, False, env, path)]
        self._nesting += 1
        try:
            return self._trace(expr, index, at, env, path, calls)
        finally:
            self._nesting -= 1

    def _trace(self, expr: cst.BaseExpression, index: FileIndex, at: Point, env: Env,
               path: str | None, calls: int) -> list[Origin]:
        if isinstance(expr, cst.Name) and expr.value not in ("None", "True", "False"):
            return list(self._name(expr.value, index, at, env, path, calls))
        if isinstance(expr, cst.IfExp):  # either value, by a condition not evaluated here
            return [_bent(o) for branch in (expr.body, expr.orelse)
                    for o in self.trace(branch, index, at, env, path, calls)]
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and self.modules is not None:
            found = self._module_attribute(expr, index, at, path)
            if found is not None:
                return found
        if isinstance(expr, cst.Call) and calls < _MAX_CALLS:
            found = self._helper_call(expr, index, at, env, path, calls)
            if found is not None:
                return found
        return [Origin(expr, index, at, True, env, path)]

    def _name(self, name: str, index: FileIndex, at: Point, env: Env, path: str | None,
              calls: int) -> Iterator[Origin]:
        self._steps += 1
        if self._steps > _MAX_STEPS or self._nesting >= _MAX_NESTING:
            yield Origin(None, index, at, False, env, path)
            return
        self._nesting += 1  # every caller runs this generator to its end
        try:
            reach = reaching(index, name, at)
            if not reach.complete:
                yield Origin(None, index, at, False, env, path)
            for definition in reach.definitions:
                for origin in self._definition(definition.binding, index, env, path, calls):
                    yield origin if definition.straight else _bent(origin)
        finally:
            self._nesting -= 1

    def _definition(self, binding: Binding, index: FileIndex, env: Env, path: str | None,
                    calls: int) -> Iterator[Origin]:
        unknown = Origin(None, index, Point.after(binding), False, env, path)
        if binding.kind == "assign" and binding.value is not None and self._same is not None \
                and self._same(binding):
            if id(binding) in self._passing:  # a rebinding in a loop reaches itself: no new origin
                return
            self._passing.add(id(binding))
            try:
                yield from self._name(binding.name, index, Point.after(binding), env, path, calls)
            finally:
                self._passing.discard(id(binding))
        elif binding.kind == "assign" and binding.value is not None:
            yield from self.trace(binding.value, index, Point.after(binding), env, path, calls)
        elif binding.kind == "param":
            yield from self._parameter(binding, index, env, path, calls)
        elif binding.kind == "import" and self.modules is not None and binding.member is not None:
            found = self.modules.lookup(path, binding.module or "")
            if found is None:
                yield unknown
                return
            other, other_path = found
            yield from self._name(binding.member, other, Point.end(other), (), other_path, calls)
        else:
            yield unknown

    def _module_attribute(self, expr: cst.Attribute, index: FileIndex, at: Point,
                          path: str | None) -> list[Origin] | None:
        """``settings.LORA`` where ``settings`` is a module of the project; ``None`` when it is not."""
        assert isinstance(expr.value, cst.Name)
        found = self._module(expr.value.value, index, at, path)
        if found is None:
            return None
        other, other_path = found
        return list(self._name(expr.attr.value, other, Point.end(other), (), other_path, 0))

    def _parameter(self, binding: Binding, index: FileIndex, env: Env, path: str | None,
                   calls: int) -> Iterator[Origin]:
        for param, (argument, where_index, where, where_env, where_path) in env:
            if param is binding:
                if argument is None:
                    yield Origin(None, where_index, where, False, where_env, where_path)
                else:
                    yield from self.trace(argument, where_index, where, where_env, where_path, calls)
                return
        if binding.value is None:
            yield Origin(None, index, Point.after(binding), False, env, path)
            return
        default_at = Point(binding.scope.parent or binding.scope, None, None)
        yield from self.trace(binding.value, index, default_at, (), path, calls)
        if not index.default_holds(binding):  # a caller may pass another value
            yield Origin(None, index, Point.after(binding), False, env, path)

    def _helper_call(self, call: cst.Call, index: FileIndex, at: Point, env: Env, path: str | None,
                     calls: int) -> list[Origin] | None:
        """The values a call of a function of this file returns, its parameters bound to the
        call's arguments; ``None`` when the callee is not such a function."""
        callee = self._function(call.func, index, at, path)
        if callee is None:
            return None
        function, where, where_path = callee
        scope = where.function_scopes.get(id(function))
        if scope is None:
            return None
        inner_env = _bind_arguments(function, scope, call, index, at, env, path)
        returns = scope.returns
        found: list[Origin] = []
        if not always_leaves(function.body):
            found.append(Origin(None, index, at, False, env, path))  # may fall off the end: None
        single = len(returns) == 1 and returns[0][1] is scope.root
        for node, block, order in returns:
            if node.value is None:
                found.append(Origin(None, index, at, False, env, path))
                continue
            for origin in self.trace(node.value, where, Point(scope, block, order), inner_env, where_path, calls + 1):
                found.append(origin if single else _bent(origin))
        return found

    def _function(self, func: cst.BaseExpression, index: FileIndex, at: Point, path: str | None
                  ) -> tuple[cst.FunctionDef, FileIndex, str | None] | None:
        """The undecorated function a call's callee names: one of this file, or one a
        project module defines (``from .settings import lora_config``, ``settings.lora_config``)."""
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and self.modules is not None:
            found = self._module(func.value.value, index, at, path)
            if found is None:
                return None
            index, path = found
            name, at = func.attr.value, Point.end(index)
        elif isinstance(func, cst.Name):
            name = func.value
        else:
            return None
        for _ in range(MAX_DEPTH + 1):
            reach = reaching(index, name, at)
            if not reach.complete or len(reach.definitions) != 1:
                return None
            binding = reach.definitions[0].binding
            if binding.kind == "function" and binding.function is not None and not binding.function.decorators:
                return binding.function, index, path
            if binding.kind != "import" or binding.member is None or self.modules is None:
                return None
            found = self.modules.lookup(path, binding.module or "")
            if found is None:
                return None
            index, path = found
            name, at = binding.member, Point.end(index)
        return None

    def _module(self, name: str, index: FileIndex, at: Point, path: str | None) -> tuple[FileIndex, str] | None:
        """The project module ``name`` is bound to (``import settings``, ``from myproj import
        settings``), read from disk."""
        assert self.modules is not None
        reach = reaching(index, name, at)
        if not reach.complete or len(reach.definitions) != 1:
            return None
        binding = reach.definitions[0].binding
        if binding.kind != "import" or binding.module is None:
            return None
        module = binding.module
        if binding.member is not None:
            module = module + binding.member if module.endswith(".") else f"{module}.{binding.member}"
        return self.modules.lookup(path, module)


def _bind_arguments(function: cst.FunctionDef, scope: Scope, call: cst.Call, index: FileIndex,
                    at: Point, env: Env, path: str | None) -> Env:
    """Each parameter of ``function`` bound to the call's argument for it (``None``: passed
    through ``*``/``**``, not known); a parameter left out keeps its default."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    keyword_only = [p.name.value for p in params.kwonly_params]
    given: dict[str, cst.BaseExpression | None] = {}
    starred = False
    position = 0
    for arg in call.args:
        if arg.star:
            starred = True
        elif arg.keyword is not None:
            given[arg.keyword.value] = arg.value
        elif not starred and position < len(positional):
            given[positional[position]] = arg.value
            position += 1
    bound: list[tuple[Binding, Argument]] = []
    for name in (*positional, *keyword_only):
        binding = next((b for b in scope.bindings.get(name, []) if b.kind == "param"), None)
        if binding is None:
            continue
        if name in given:
            bound.append((binding, (given[name], index, at, env, path)))
        elif starred:
            bound.append((binding, (None, index, at, env, path)))
        elif binding.value is not None:
            default_at = Point(scope.parent or scope, None, None)
            bound.append((binding, (binding.value, index, default_at, (), path)))
    return tuple(bound)


@dataclass
class Known:
    """The distinct values read from some origins, each with the origins it comes from;
    ``complete``: every origin gave one (no path brings a value not known here)."""

    values: dict[object, list[Origin]]
    complete: bool

    @classmethod
    def of(cls, valued: Iterable[tuple[Origin, object | None]]) -> "Known":
        values: dict[object, list[Origin]] = {}
        complete = True
        for origin, value in valued:
            if value is None:
                complete = False
            else:
                values.setdefault(value, []).append(origin)
        return cls(values, complete)

    @property
    def unique(self) -> bool:
        """The same value on every path."""
        return self.complete and len(self.values) == 1

    def straight(self, value: object) -> bool:
        return any(origin.straight for origin in self.values[value])


def meet(left: Known, right: Known) -> list[tuple[object, object]]:
    """The pairs of values that provably meet at one use on some path: both the same on
    every path, or one the same on every path and the other straight; never two values
    that both vary (a condition not evaluated here may tie them: a model chosen by
    ``if small:`` and its targets by another ``if small:``)."""
    return [(a, b) for a in left.values for b in right.values
            if (left.unique and (right.unique or right.straight(b))) or (right.unique and left.straight(a))]
