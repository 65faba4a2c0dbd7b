"""Rendering violations: concise, full, json, sarif, github, gitlab."""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)

if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence
    from ..violation import Violation

__all__ = ["FORMATS", "fixable", "position", "render"]
FORMATS = ("concise", "full", "json", "sarif", "github", "gitlab")


def __getattr__(name: str) -> Any:
    """``fixable`` (``violation.fixable``), imported on first use: the command line's parser reads
    ``FORMATS`` without the violation types."""
    if name == "fixable":
        from ..violation import fixable

        return fixable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def position(violation: Violation) -> str:
    """``row:col``, or ``cell N:row:col`` in a notebook."""
    where = f"{violation.location.row}:{violation.location.column}"
    cell = violation.extra.get("cell")
    return f"cell {cell}:{where}" if cell is not None else where


def render(fmt: str, violations: Sequence[Violation], *, sources: Mapping[str, str] | None = None,
           unsafe: bool = False) -> str:
    """The report text; ``sources`` (filename -> text) feeds the ``full`` format's snippets."""
    if fmt == "concise":
        from .concise import render as impl
        return impl(violations, unsafe=unsafe)
    if fmt == "full":
        from .full import render as impl
        return impl(violations, sources or {}, unsafe=unsafe)
    if fmt == "json":
        from .json import render as impl
        return impl(violations)
    if fmt == "sarif":
        from .sarif import render as impl
        return impl(violations)
    if fmt == "github":
        from .github import render as impl
        return impl(violations)
    if fmt == "gitlab":
        from .gitlab import render as impl
        return impl(violations, sources)
    raise ValueError(f"unknown output format {fmt!r}")
