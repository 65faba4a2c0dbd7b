"""Which files are worth parsing with libcst: those that call a name an enabled rule needs.

Each rule declares ``TRIGGERS``, the names it needs to see called or passed as a keyword
(``LoraConfig``; for the rules that check a config made in another module and applied in this
one, ``get_peft_model``, ``add_adapter``, ``peft_config``, ...); the prefilter of a run is their
union over the enabled rules. A file is parsed and analysed only if

1. its text contains a trigger (a substring test: every way of reaching ``LoraConfig`` names it,
   ``from peft import LoraConfig as LC``, ``import peft as p; p.LoraConfig``, or
   ``from peft import *`` followed by ``LoraConfig(...)``), and
2. CPython's parser (much faster than libcst's) finds a call whose callee names a trigger: directly
   (``LoraConfig(...)``), as an attribute (``peft.LoraConfig(...)``,
   ``PeftModel.from_pretrained(...)``) or through an import alias (``LC(...)``), or that passes
   a trigger as a keyword (``SFTTrainer(model=m, peft_config=c)``). The analysis resolves a
   callee through the file's imports only, so a file with the word only in strings, comments,
   imports, annotations or ``isinstance`` checks holds nothing a rule can see.

A file that CPython cannot parse goes on to libcst, which reports it as LORA000.
"""
from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Iterable

_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass(frozen=True)
class Prefilter:
    names: frozenset[str] | None  # None: a rule without triggers is enabled, every file is parsed

    @classmethod
    def for_rules(cls, rules: Iterable[type]) -> "Prefilter":
        names: set[str] = set()
        for rule in rules:
            if not rule.TRIGGERS:
                return cls(None)
            names.update(rule.TRIGGERS)
        return cls(frozenset(names))

    @classmethod
    def for_codes(cls, codes: Iterable[str]) -> "Prefilter":
        """For the enabled rules: LORA000 reports a file another enabled rule would look at
        (alone, any file a rule could look at: its own TRIGGERS are all of theirs)."""
        from .catalog import all_rules
        from .config import SYNTAX_ERROR

        rules = all_rules()
        enabled = [rules[code] for code in codes]
        return cls.for_rules([rule for rule in enabled if rule.CODE != SYNTAX_ERROR] or enabled)

    def mentions(self, source: str) -> bool:
        """Whether the text contains a trigger (``False``: no rule can fire on it)."""
        return self.names is None or any(name in source for name in self.names)

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
        return calls_any(tree, self.names)


def calls_any(tree: ast.AST, names: frozenset[str]) -> bool:
    """Whether a call's callee (``a.b.c(...)``: ``a``, ``b`` or ``c``) or keyword (``peft_config=``)
    is one of ``names``, or the callee an import alias of one (``from peft import LoraConfig as LC``)."""
    called: set[str] = set()
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                called.add(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                called.add(func.id)
            called.update(keyword.arg for keyword in node.keywords if keyword.arg)
        elif isinstance(node, ast.alias) and node.asname and node.name.rpartition(".")[2] in names:
            aliases.add(node.asname)
    return not called.isdisjoint(names) or not called.isdisjoint(aliases)
