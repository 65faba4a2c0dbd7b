"""What a lint run reports: violations with 1-based positions and optional fixes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Location:
    row: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class TextEdit:
    """Replace the text between two locations with ``content``."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class FixInfo:
    applicability: str  # "safe" | "unsafe"
    message: str
    edits: tuple[TextEdit, ...] = ()


@dataclass(frozen=True)
class Violation:
    code: str
    name: str
    severity: str  # "error" | "warning" | "info"
    message: str
    filename: str
    location: Location
    end_location: Location
    fix: FixInfo | None = None
    url: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def split_rows(text: str) -> list[str]:
    """The text's lines as ``Location.row`` counts them: Python ends a line at ``\\n``, ``\\r\\n``
    or ``\\r`` only (``str.splitlines`` also at form feeds, U+2028 and others)."""
    rows = _LINE_BREAK.split(text)
    return rows[:-1] if rows[-1] == "" else rows


def fixable(violation: Violation, unsafe: bool) -> bool:
    """Would ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) fix it?"""
    fix = violation.fix
    return fix is not None and (fix.applicability == "safe" or unsafe)
