"""Which files are worth parsing with libcst: those that call a name an enabled rule needs.

Each rule declares ``TRIGGERS``, the names it needs to see called (``LoraConfig``; for the rules
that check a config made in another module and applied in this one, ``get_peft_model``,
``add_adapter``, ...), and ``KEYWORD_TRIGGERS``, the keywords it needs to see passed
(``peft_config``, ``fp16``); the prefilter of a run is their union over the enabled rules. A file
is parsed and analysed only if

1. its text contains a trigger (a substring test: every way of reaching ``LoraConfig`` names it,
   ``from peft import LoraConfig as LC``, ``import peft as p; p.LoraConfig``, or
   ``from peft import *`` followed by ``LoraConfig(...)``), and
2. CPython's parser (much faster than libcst's) finds a call whose callee names a trigger: directly
   (``LoraConfig(...)``), as an attribute (``peft.LoraConfig(...)``,
   ``PeftModel.from_pretrained(...)``) or through an import alias (``LC(...)``), or that passes
   a keyword trigger (``SFTTrainer(model=m, peft_config=c)``). The analysis resolves a
   callee through the file's imports only, so a file with the word only in strings, comments,
   imports, annotations or ``isinstance`` checks holds nothing a rule can see; nor does one that
   calls a keyword trigger (``self.peft_config.items()``) or passes a called one
   (``Wav2Vec2Config(add_adapter=True)``).

A rule about loading a model (LORA301) names keywords in ``LOAD_TRIGGERS``: a file is parsed for
it only if a ``from_pretrained`` call of a model class (no tokenizer, processor or config) passes
one as ``True`` or a name, with an id that may be static (``loads_any``). Files that pass
``trust_remote_code=True`` only to tokenizers, datasets or with a computed model path stay unparsed.

A rule whose check cannot run without some other call names those in ``NEEDS_CALLED``: its
triggers count only in a file that also calls one of them (the training rules look at a trainer
only once its ``.train()`` is called, at a hand-written loop only where ``.backward()`` is), so
a file that passes ``fp16=`` or calls ``resize_token_embeddings`` but trains nothing stays unparsed.
A trigger another rule needs unconditionally counts alone.

A file that CPython cannot parse goes on to libcst, which reports it as LORA000.

CPython's tree is needed only where the characters show a trigger that may be called, aliased or
passed (``may_call``, ``call_text``); the engine checks any other text with CPython's parser
alone. ``Scan`` walks a tree once (``ast_walk``), for the calls and the expression chains together.
"""
from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable, Mapping

from . import call_text
from .ast_walk import CHILDREN, LINKS, Chains

_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass(frozen=True)
class Prefilter:
    names: frozenset[str] | None  # None: a rule without triggers is enabled, every file is parsed
    # keywords of a ``from_pretrained`` call loading a model from a static id (see ``loads_any``)
    loads: frozenset[str] = frozenset()
    # trigger -> the NEEDS_CALLED of each rule that has it (one of a set must be called too); a
    # trigger some rule needs alone is not here
    needs: Mapping[str, tuple[frozenset[str], ...]] = field(default_factory=dict, hash=False)
    keywords: frozenset[str] = frozenset()  # the keyword triggers (``names``: the called ones)

    @classmethod
    def for_rules(cls, rules: Iterable[type]) -> "Prefilter":
        names: set[str] = set()
        keywords: set[str] = set()
        loads: set[str] = set()
        needs: dict[str, list[frozenset[str]]] = {}
        alone: set[str] = set()
        for rule in rules:
            load_triggers = getattr(rule, "LOAD_TRIGGERS", ())
            keyword_triggers = getattr(rule, "KEYWORD_TRIGGERS", ())
            if not rule.TRIGGERS and not keyword_triggers and not load_triggers:
                return cls(None)
            names.update(rule.TRIGGERS)
            keywords.update(keyword_triggers)
            loads.update(load_triggers)
            also = frozenset(getattr(rule, "NEEDS_CALLED", ()))
            for name in (*rule.TRIGGERS, *keyword_triggers):
                if also:
                    needs.setdefault(name, []).append(also)
                else:
                    alone.add(name)
        return cls(frozenset(names), frozenset(loads),
                   {name: tuple(sets) for name, sets in needs.items() if name not in alone}, frozenset(keywords))

    @classmethod
    def for_codes(cls, codes: Iterable[str], reporting: Callable[[str], bool] | None = None) -> "Prefilter":
        """For the enabled rules: LORA000 reports a file another enabled rule would look at
        (alone, any file any other rule could look at). ``reporting``: whether a rule can report
        under the run's versions (``Rule.reports_under``); the others' triggers are left out."""
        from .catalog import info
        from .config import SYNTAX_ERROR

        rules = info()
        others = [code for code in codes if code != SYNTAX_ERROR]
        if not others and SYNTAX_ERROR in codes:
            others = [code for code in rules if code != SYNTAX_ERROR]
        return cls.for_rules([rules[code] for code in others if reporting is None or reporting(code)])

    def mentions(self, source: str) -> bool:
        """Whether the text contains a trigger (and one of the names it needs; ``False``: no rule
        can fire on it)."""
        return self.names is None or any(name in source for name in self._alone) \
            or any(name in source and self._needed_in(name, source) for name in self._needy) \
            or ("from_pretrained" in source and any(keyword in source for keyword in self.loads))

    @cached_property
    def _alone(self) -> tuple[str, ...]:
        """The triggers that count on their own, less those that hold another (``PeftModel`` is in
        every text ``PeftModelForCausalLM`` is in): one substring search each."""
        alone = {name for name in self._all if name not in self.needs}
        return tuple(sorted(name for name in alone if not any(other != name and other in name for other in alone)))

    @cached_property
    def _needy(self) -> tuple[str, ...]:
        return tuple(sorted(name for name in self._all if name in self.needs))

    @cached_property
    def _all(self) -> frozenset[str]:
        return (self.names or frozenset()) | self.keywords

    def _needed_in(self, name: str, source: str) -> bool:
        return any(any(n in source for n in also) for also in self.needs[name])

    def may_call(self, source: str) -> bool:
        """``False`` only when ``calls`` is ``False`` for any text CPython parses: no trigger may be
        called or aliased (and no model loaded with a load keyword) as the characters tell
        (``call_text``), without building CPython's tree."""
        if self.names is None:
            return True
        text = call_text.normalized(source)
        uses: dict[str, set[str]] = {}

        def used(name: str) -> set[str]:
            if name not in uses:
                uses[name] = call_text.kinds(text, name)
            return uses[name]

        for name in self._all:
            how = used(name)
            called = name in self.names  # else a keyword trigger
            if called and "aliased" in how:
                return True
            if ("called" if called else "passed") in how and (name not in self.needs or any(
                    any(used(other) & {"called", "passed"} for other in also) for also in self.needs[name])):
                return True
        return bool(self.loads) and call_text.loads(text, self.loads, _NOT_MODELS)

    def calls(self, source: str) -> bool:
        """``False`` only when CPython parses the source and no call in it names a trigger."""
        if self.names is None:
            return True
        try:
            with warnings.catch_warnings():  # invalid escape sequences and the like: not ours to report
                warnings.simplefilter("ignore")
                tree = compile(source, "<prefilter>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except _UNPARSABLE:
            return True
        scan = self.scan()
        scan.add(tree)
        return scan.found()

    def scan(self) -> "Scan":
        """What ``calls`` looks for, gathered over the trees of a text's pieces (``parsing.split``)."""
        return Scan(self.names, self.loads, self.needs, self.keywords)


_NOT_MODELS = ("Tokenizer", "Processor", "Extractor", "Config")
_BINDINGS = (ast.Assign, ast.AnnAssign, ast.arguments)  # the nodes ``_string_names`` reads


class Scan:
    """The calls of one text, seen piece by piece: ``found()`` when a call's callee
    (``a.b.c(...)``: ``a``, ``b`` or ``c``) is a trigger or an import alias of one
    (``from peft import LoraConfig as LC``), a call passes a keyword trigger (``peft_config=``), or
    a ``from_pretrained`` call loads a model with a load keyword (``loads``)."""

    def __init__(self, names: frozenset[str] | None, loads: frozenset[str] = frozenset(),
                 needs: Mapping[str, tuple[frozenset[str], ...]] | None = None,
                 keywords: frozenset[str] = frozenset()) -> None:
        self.names, self.loads, self.needs, self.keywords = names, loads, needs or {}, keywords
        self.called: set[str] = set()
        self.passed: set[str] = set()  # the keywords of the calls
        self.aliases: set[str] = set()
        self.loads_static = False  # a model loaded with a load keyword from a string
        self.load_names: set[str] = set()  # ... or from a name: static if the text binds it to a string
        self.strings: set[str] = set()  # names the text binds to a string or gives a string default
        self.chains = Chains()  # the longest expression chain (``parsing.MAX_CHAIN``), measured in the same walk

    def add(self, tree: ast.AST) -> None:
        names = self.names or frozenset()
        called, passed, loads, chains = self.called, self.passed, self.loads, self.chains
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
                if kind is ast.Call:
                    func = node.func
                    while isinstance(func, ast.Attribute):
                        called.add(func.attr)
                        func = func.value
                    if isinstance(func, ast.Name):
                        called.add(func.id)
                    passed.update(keyword.arg for keyword in node.keywords if keyword.arg)
                    if loads:
                        self._load(node)
            elif kind is ast.alias:
                if node.asname and node.name.rpartition(".")[2] in names:
                    self.aliases.add(node.asname)
            elif loads and kind in _BINDINGS:
                self.strings.update(_string_names(node))

    def found(self) -> bool:
        if self.names is None:
            return True
        seen = self.called | self.passed
        hits = (self.called & self.names) | (self.passed & self.keywords)
        return any(name not in self.needs or any(not seen.isdisjoint(also) for also in self.needs[name])
                   for name in hits) or not self.called.isdisjoint(self.aliases) or \
            self.loads_static or not self.load_names.isdisjoint(self.strings)

    def _load(self, node: ast.Call) -> None:
        first = loaded_id(node, self.loads)
        if isinstance(first, ast.Constant):
            self.loads_static = True
        elif isinstance(first, ast.Name):
            self.load_names.add(first.id)


def loaded_id(node: ast.Call, loads: frozenset[str]) -> ast.expr | None:
    """The model id of a ``X.from_pretrained(<id>, <keyword>=...)`` call loading a model (``X``
    names no tokenizer, processor or config) that passes a load keyword as ``True`` or a name,
    when that id is a string or a name (else None)."""
    if not (isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained" and any(
            k.arg in loads and (isinstance(k.value, ast.Name) or (
                isinstance(k.value, ast.Constant) and k.value.value is True)) for k in node.keywords)):
        return None
    if any(word in ast.unparse(node.func.value) for word in _NOT_MODELS):
        return None
    first = node.args[0] if node.args else next(
        (k.value for k in node.keywords if k.arg == "pretrained_model_name_or_path"), None)
    if isinstance(first, ast.Constant) and isinstance(first.value, str) or isinstance(first, ast.Name):
        return first
    return None


def _string_names(node: ast.AST) -> set[str]:
    """Names one node binds to a string or gives a string default."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return {node.target.id}
    if isinstance(node, ast.arguments):
        positional = [*node.posonlyargs, *node.args]
        pairs = [*zip(positional[len(positional) - len(node.defaults):], node.defaults),
                 *zip(node.kwonlyargs, node.kw_defaults)]
        return {arg.arg for arg, default in pairs
                if isinstance(default, ast.Constant) and isinstance(default.value, str)}
    return set()
