"""Rule selectors as ruff spells them: codes, code prefixes, rule names and ``ALL``."""
from __future__ import annotations

import difflib
import re
from typing import Iterable

from .catalog import by_name, info
from .errors import ConfigError

_PREFIX_RE = re.compile(r"^LORA\d{0,3}$")


def expand(selector: str) -> set[str]:
    """The codes one selector stands for; a ``ConfigError`` for one that matches nothing."""
    rules, names = info(), by_name()
    token = selector.strip()
    if token.upper() == "ALL":
        return set(rules)
    if _PREFIX_RE.match(token.upper()):
        codes = {code for code in rules if code.startswith(token.upper())}
        if codes:
            return codes
    elif token.lower() in names:
        return {names[token.lower()]}
    candidates = list(rules) + list(names) + ["ALL"]
    close = difflib.get_close_matches(token, candidates, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown rule selector {selector!r}{hint}")


def expand_all(selectors: Iterable[str]) -> set[str]:
    codes: set[str] = set()
    for selector in selectors:
        codes |= expand(selector)
    return codes


def default_codes() -> set[str]:
    return {code for code, rule in info().items() if rule.DEFAULT_ENABLED}
