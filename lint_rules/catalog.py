"""Every registered rule, loaded by importing each module of ``lint_rules.rules``."""
from __future__ import annotations

import importlib
import pkgutil

from .rule import REGISTRY, Rule

_loaded = False


def all_rules() -> dict[str, type[Rule]]:
    """Rules by code, in code order."""
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


def by_name() -> dict[str, str]:
    """Rule name -> code."""
    return {rule.NAME: code for code, rule in all_rules().items()}


def to_code(token: str) -> str | None:
    """A rule code given as a code or a name (case-insensitive), else ``None``."""
    rules = all_rules()
    upper = token.strip().upper()
    if upper in rules:
        return upper
    return by_name().get(token.strip().lower())
