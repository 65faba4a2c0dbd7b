"""Every registered rule: its metadata without importing the rules (``info()``, from
``rules/index.json``), and the rule classes, loaded by importing each module of
``lint_rules.rules`` (``all_rules()``: only the engine needs them, and only for a file it parses).

``index.json`` is written by ``scripts/gen_rule_docs.py`` from the classes; a test keeps the two equal.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from .rule import REGISTRY, Rule

INDEX = Path(__file__).resolve().parent / "rules" / "index.json"
_loaded = False
_index: dict[str, "RuleInfo"] | None = None
_merged: tuple[tuple, dict[str, "RuleInfo"]] = ((), {})


@dataclass(frozen=True)
class RuleInfo:
    """What settings, selection, noqa comments and the prefilter read of a rule, named as on ``Rule``."""

    CODE: str
    NAME: str
    SEVERITY: str
    SUMMARY: str
    FIX: str | None
    DEFAULT_ENABLED: bool
    OPTIONS: Mapping[str, Any]
    TRIGGERS: tuple[str, ...]
    KEYWORD_TRIGGERS: tuple[str, ...]
    LOAD_TRIGGERS: tuple[str, ...]
    NEEDS_CALLED: tuple[str, ...]
    SOURCES: tuple[str, ...] | None

    @classmethod
    def of(cls, rule: type[Rule] | Mapping[str, Any]) -> "RuleInfo":
        get = rule.get if isinstance(rule, Mapping) else lambda name: getattr(rule, name)
        values = {f.name: get(f.name) for f in fields(cls)}
        for name in ("TRIGGERS", "KEYWORD_TRIGGERS", "LOAD_TRIGGERS", "NEEDS_CALLED"):
            values[name] = tuple(values[name])
        if values["SOURCES"] is not None:
            values["SOURCES"] = tuple(values["SOURCES"])
        values["OPTIONS"] = dict(values["OPTIONS"])
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def all_rules() -> dict[str, type[Rule]]:
    """Rule classes by code, in code order."""
    global _loaded
    if not _loaded:
        package = importlib.import_module("lint_rules.rules")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"lint_rules.rules.{info.name}")
        _loaded = True
    return dict(sorted(REGISTRY.items()))


def loaded() -> bool:
    """Whether the rule modules are imported already."""
    return _loaded


def info() -> dict[str, RuleInfo]:
    """Every rule's metadata by code, in code order: once the rules are imported, the registered
    classes'; before, the index's, with any class registered already winning over its entry."""
    global _index, _merged
    if _index is None:
        _index = {code: RuleInfo.of(entry) for code, entry in json.loads(INDEX.read_text("utf-8")).items()}
    if not REGISTRY:
        return _index
    key = tuple((code, id(rule)) for code, rule in REGISTRY.items()) + (_loaded,)
    if _merged[0] != key:
        classes = {code: RuleInfo.of(rule) for code, rule in REGISTRY.items()}
        _merged = (key, dict(sorted((classes if _loaded else {**_index, **classes}).items())))
    return _merged[1]


def by_name() -> dict[str, str]:
    """Rule name -> code."""
    return {rule.NAME: code for code, rule in info().items()}


def to_code(token: str) -> str | None:
    """A rule code given as a code or a name (case-insensitive), else ``None``."""
    rules = info()
    upper = token.strip().upper()
    if upper in rules:
        return upper
    return by_name().get(token.strip().lower())
