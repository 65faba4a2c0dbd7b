"""Whether a declared version range of a package reaches below a release."""
from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def reaches_below(spec: str, bound: str) -> bool | None:
    """Whether ``spec`` (a version or PEP 440 specifier) admits a version older than ``bound``; a
    range with no lower bound does. None: ``spec`` cannot be read (each caller stays silent)."""
    limit = Version(bound)
    try:
        return Version(spec.strip()) < limit
    except InvalidVersion:
        pass
    try:
        clauses = list(SpecifierSet(spec.strip()))
    except InvalidSpecifier:
        return None
    lower: list[Version] = []
    for clause in clauses:
        if clause.operator in (">=", ">", "==", "~=", "==="):
            try:
                lower.append(Version(clause.version.removesuffix(".*")))
            except InvalidVersion:
                return None
    return not lower or max(lower) < limit


def allows_below(spec: str | None, bound: str, installed: str | None = None) -> bool:
    """Whether ``spec`` (None: the installed version, ``installed`` or transformers' when not
    given) admits a version older than ``bound``; an unknown range (nothing declared or
    installed, or unreadable) is taken as not."""
    if spec is None:
        if installed is None:
            from ..knowledge.architectures import installed_transformers

            installed = installed_transformers()
        spec = installed
    return spec is not None and reaches_below(spec, bound) is True
