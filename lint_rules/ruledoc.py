"""A rule's documentation, rendered from its docstring and its ``VALID``/``INVALID`` examples."""
from __future__ import annotations

import inspect
import re

from .rule import Case, Rule

_SECTION = re.compile(r"^(What|Why|Example|Fix[ -]safety):\s*")


def _settings(case: Case) -> str:
    if not case.settings:
        return ""
    pairs = ", ".join(f"{k} = {v!r}" for k, v in case.settings.items())
    return f"With settings `{pairs}`:\n\n"


_LANGUAGES = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def _block(case: Case, code: str | None = None) -> str:
    """A fenced block in the case's language, titled with its file name when that is not Python."""
    language = next((lang for suffix, lang in _LANGUAGES.items() if case.filename.endswith(suffix)), "python")
    title = f"`{case.filename}`:\n\n" if language != "python" else ""
    return f"{title}```{language}\n{(case.code if code is None else code).rstrip()}\n```\n"


def _doc(rule: type[Rule]) -> str:
    """The docstring with its What/Why/Example/Fix-safety sections as separate paragraphs."""
    lines: list[str] = []
    for line in (inspect.getdoc(rule) or "").splitlines():
        section = _SECTION.match(line)
        if section:
            lines += [""] if lines and lines[-1] else []
            lines.append(f"**{section.group(1)}:** {line[section.end():]}")
        else:
            lines.append(line)
    return "\n".join(lines).strip()


def explain(rule: type[Rule]) -> str:
    """Markdown: title, metadata, the docstring, then each example (and its fixed form)."""
    fix = {"safe": "safe fix", "unsafe": "unsafe fix (needs --unsafe-fixes)"}.get(rule.FIX or "", "no fix")
    default = "on by default" if rule.DEFAULT_ENABLED else "off by default (select it to use it)"
    parts = [f"# {rule.CODE} {rule.NAME}\n", f"Severity: {rule.SEVERITY}; {fix}; {default}.\n",
             f"{rule.SUMMARY}.\n" if not rule.SUMMARY.endswith(".") else f"{rule.SUMMARY}\n"]
    doc = _doc(rule)
    if doc:
        parts.append(doc + "\n")
    if rule.INVALID:
        parts.append("## Flagged\n")
        for case in rule.INVALID:
            parts.append(_settings(case) + _block(case))
            if case.fixed is not None:
                parts.append("Fixed:\n\n" + _block(case, case.fixed))
    if rule.VALID:
        parts.append("## Not flagged\n")
        parts.extend(_settings(case) + _block(case) for case in rule.VALID)
    return "\n".join(parts)
