"""What a lint run reports: violations with 1-based positions and optional fixes."""
from __future__ import annotations

from dataclasses import dataclass, field


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


def fixable(violation: Violation, unsafe: bool) -> bool:
    """Would ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) fix it?"""
    fix = violation.fix
    return fix is not None and (fix.applicability == "safe" or unsafe)
