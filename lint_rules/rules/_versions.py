"""Whether a declared version range of a package reaches below a release."""
from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def allows_below(spec: str | None, bound: str, installed: str | None = None) -> bool:
    """Whether ``spec`` (a version or PEP 440 specifier; None: the installed version, ``installed``
    or transformers' when not given) admits a version older than ``bound``. A range with no lower
    bound admits one; an unknown range (nothing declared or installed) is taken as not."""
    if spec is None:
        if installed is None:
            from ..knowledge.architectures import installed_transformers

            installed = installed_transformers()
        spec = installed
    if spec is None:
        return False
    limit = Version(bound)
    try:
        return Version(spec.strip()) < limit
    except InvalidVersion:
        pass
    try:
        clauses = list(SpecifierSet(spec.strip()))
    except InvalidSpecifier:
        return False
    lower: list[Version] = []
    for clause in clauses:
        if clause.operator in (">=", ">", "==", "~=", "==="):
            try:
                lower.append(Version(clause.version.removesuffix(".*")))
            except InvalidVersion:
                return False
    return not lower or max(lower) < limit
