"""A rule's documentation, rendered from its docstring and its ``VALID``/``INVALID`` examples."""
from __future__ import annotations

import inspect

from .rule import Case, Rule


def _settings(case: Case) -> str:
    if not case.settings:
        return ""
    pairs = ", ".join(f"{k} = {v!r}" for k, v in case.settings.items())
    return f"With settings `{pairs}`:\n\n"


def _block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```\n"


def explain(rule: type[Rule]) -> str:
    """Markdown: title, metadata, the docstring, then each example (and its fixed form)."""
    fix = {"safe": "safe fix", "unsafe": "unsafe fix (needs --unsafe-fixes)"}.get(rule.FIX or "", "no fix")
    default = "on by default" if rule.DEFAULT_ENABLED else "off by default (select it to use it)"
    parts = [f"# {rule.CODE} {rule.NAME}\n", f"Severity: {rule.SEVERITY}; {fix}; {default}.\n",
             f"{rule.SUMMARY}.\n" if not rule.SUMMARY.endswith(".") else f"{rule.SUMMARY}\n"]
    doc = inspect.getdoc(rule)
    if doc:
        parts.append(doc + "\n")
    if rule.INVALID:
        parts.append("## Flagged\n")
        for case in rule.INVALID:
            parts.append(_settings(case) + _block(case.code))
            if case.fixed is not None:
                parts.append("Fixed:\n\n" + _block(case.fixed))
    if rule.VALID:
        parts.append("## Not flagged\n")
        parts.extend(_settings(case) + _block(case.code) for case in rule.VALID)
    return "\n".join(parts)
