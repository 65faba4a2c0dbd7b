"""``LoraCall``: one peft ``LoraConfig(...)`` call and what is statically known about it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

from .guards import version_test
from .index import AttributeSite, CallSite, FileIndex
from .values import UNKNOWN

if TYPE_CHECKING:
    from .model import ModelInfo

LORA_CONFIG_NAMES = frozenset({
    "peft.LoraConfig",
    "peft.tuners.LoraConfig",
    "peft.tuners.lora.LoraConfig",
    "peft.tuners.lora.config.LoraConfig",
})


@dataclass(eq=False)
class Keyword:
    """One keyword argument and its static value (``UNKNOWN`` when not provable).

    ``node`` is the value expression; ``report_node`` what a finding points at (the
    argument in the call, or the ``**splat`` it came from). ``arg`` is the ``Arg`` or
    ``DictElement`` written inside the call's parentheses, ``None`` when the keyword
    comes from elsewhere (a dict bound to a name): only then may a fix rewrite it.
    """

    name: str
    value: Any
    node: cst.BaseExpression
    report_node: cst.CSTNode
    arg: cst.Arg | cst.DictElement | None = None
    guarded: bool = False  # passed only on some peft versions (a runtime version check)

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN


@dataclass(eq=False)
class LoraCall:
    """A peft ``LoraConfig(...)`` call.

    ``open_ended``: positional arguments or a ``**splat``/``*args`` that could not be
    resolved exist, or a keyword no peft release has that may stand for several (see
    ``_read_misspellings``), so a keyword missing from ``keywords`` is not provably omitted.
    ``guarded``: the whole call sits behind a runtime version check. ``models``: every
    model the config is provably applied to whose module names the data knows (see
    ``lint_rules.analysis.model``); ``model`` the one model when there is exactly one;
    ``unnamed_models``: those loaded by a head class the data does not record
    (``AutoModelForTokenClassification``), whose module names are not known. ``reassigned``: attributes the file sets on
    the config afterwards (``config.lora_alpha = 32``), whose values are then not the call's.
    ``origin``: the path of the module that makes the config, when it is not the linted
    file (``from .config import LORA``): the call is then applied here, its keywords are
    reported at ``anchor`` (the expression here that applies it) and never fixed. ``index``
    and ``site``: where the call is in the index of the file that makes it (to follow names).
    ``attributes``: reads and assignments ``name.attr`` in the file where ``name`` holds this
    config on every path (see ``analysis.attributes``).
    """

    node: cst.Call
    keywords: dict[str, Keyword] = field(default_factory=dict)
    open_ended: bool = False
    guarded: bool = False
    model: "ModelInfo | None" = None
    models: "tuple[ModelInfo, ...]" = ()
    unnamed_models: "tuple[ModelInfo, ...]" = ()
    reassigned: set[str] = field(default_factory=set)
    origin: str | None = None
    anchor: cst.CSTNode | None = None
    index: FileIndex | None = None  # the index of the file that makes the call, and its site there
    site: CallSite | None = None
    attributes: list[AttributeSite] = field(default_factory=list)

    def get(self, name: str) -> Keyword | None:
        return self.keywords.get(name)

    def value(self, name: str, defaults: dict[str, Any] | None = None) -> Any:
        """The keyword's static value; if provably omitted, ``defaults[name]`` (a release's
        default, see ``peft_releases.lora_fields``); else ``UNKNOWN``."""
        keyword = self.keywords.get(name)
        if keyword is not None:
            return keyword.value
        if self.open_ended or name in self.reassigned or defaults is None or name not in defaults:
            return UNKNOWN
        default = defaults[name]
        return UNKNOWN if isinstance(default, dict) and "expr" in default else default

    def is_guarded(self, name: str) -> bool:
        keyword = self.keywords.get(name)
        return self.guarded or (keyword is not None and keyword.guarded)


def _read_misspellings(call: LoraCall) -> None:
    """A keyword no peft release has (``LoraConfig()`` raises on it) is read as the keyword it
    unambiguously stands for (``lora_alpah=16`` as ``lora_alpha=16``: what LORA003's fix
    renames it to); otherwise it may stand for any omitted keyword, and the call is open-ended."""
    from ..knowledge.misspellings import candidates
    from ..knowledge.peft_releases import all_field_names

    known = all_field_names()
    for name in sorted(call.keywords.keys() - known):
        meant, _ = candidates(name, known)
        if len(meant) == 1 and meant[0] not in call.keywords:
            call.keywords[meant[0]] = dataclasses.replace(call.keywords[name], name=meant[0])
        else:
            call.open_ended = True


def is_lora_config(index: FileIndex, site: CallSite) -> bool:
    return index.qualname(site.node.func, site.scope) in LORA_CONFIG_NAMES


def imported_call(index: FileIndex, site: CallSite, path: str, anchor: cst.CSTNode) -> LoraCall:
    """A config made in another module (``path``) and applied in the linted file at ``anchor``."""
    call = build_call(index, site)
    call.origin, call.anchor = path, anchor
    for name, keyword in call.keywords.items():
        call.keywords[name] = dataclasses.replace(keyword, arg=None, report_node=anchor)
    return call


def build_call(index: FileIndex, site: CallSite) -> LoraCall:
    call = LoraCall(site.node, guarded=site.guarded, index=index, site=site)
    for arg in site.node.args:
        if arg.star == "*" or (arg.keyword is None and not arg.star):
            call.open_ended = True
        elif arg.keyword is not None:
            value = index.value_of(arg.value, site.scope, site.order)
            call.keywords[arg.keyword.value] = Keyword(arg.keyword.value, value, arg.value, arg, arg)
        else:
            _splat(index, site, call, arg, arg.value, in_call=True, guarded=False)
    _read_misspellings(call)
    for name in index.bound_names.get(id(site.node), []):
        call.reassigned |= index.attribute_writes.get(name, set())
    call.reassigned |= index.alias_writes()  # c.lora_alpha = ... in `for c in configs`, `def fix(c)`
    if "*" in call.reassigned:  # setattr(config, name, ...), config.__dict__: any attribute
        call.open_ended = True
        call.reassigned = set(call.keywords)
    for name in call.reassigned & call.keywords.keys():
        call.keywords[name].value = UNKNOWN
    return call


def _splat(index: FileIndex, site: CallSite, call: LoraCall, arg: cst.Arg,
           expr: cst.BaseExpression, *, in_call: bool, guarded: bool) -> None:
    """Keywords from ``**expr``: a dict literal, ``dict(...)``, a name bound to one, or a
    conditional of those (whose keywords are then not provably passed)."""
    if isinstance(expr, cst.IfExp):
        guarded = guarded or version_test(expr.test, lambda n: index.versiony(n, site.scope), index.names_in)
        call.open_ended = True  # either branch's keywords may be missing
        for branch in (expr.body, expr.orelse):
            before = dict(call.keywords)
            _splat(index, site, call, arg, branch, in_call=in_call, guarded=guarded)
            for name, keyword in call.keywords.items():
                if name not in before or before[name] is not keyword:
                    keyword.value = UNKNOWN
        return
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.StarredDictElement):
                _splat(index, site, call, arg, element.value, in_call=in_call, guarded=guarded)
                continue
            key = index.value_of(element.key, site.scope, site.order)
            if not isinstance(key, str):
                call.open_ended = True
                continue
            value = index.value_of(element.value, site.scope, site.order)
            call.keywords[key] = Keyword(key, value, element.value, element if in_call else arg,
                                         element if in_call else None, guarded)
        return
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict" \
            and index.is_builtin("dict", site.scope):
        for inner in expr.args:
            if inner.keyword is not None:
                value = index.value_of(inner.value, site.scope, site.order)
                call.keywords[inner.keyword.value] = Keyword(
                    inner.keyword.value, value, inner.value, inner if in_call else arg,
                    inner if in_call else None, guarded)
            elif inner.star == "**":
                _splat(index, site, call, arg, inner.value, in_call=in_call, guarded=guarded)
            else:
                call.open_ended = True
        return
    if isinstance(expr, cst.Name):
        binding = index.binding_of(expr, site.scope)
        if (binding is not None and binding.kind == "assign" and expr.value not in index.mutated
                and binding.bound_at(site.scope, site.order)):
            inner_site = CallSite(site.node, binding.scope, binding.order, site.guarded, site.statement)
            _splat(index, inner_site, call, arg, binding.value, in_call=False, guarded=guarded)
            return
    call.open_ended = True
