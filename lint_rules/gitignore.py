"""``.gitignore`` matching: pathspec's implementation of git's wildmatch, one file at a time.

Two things pathspec (up to 1.1) does not do as git does are handled before patterns reach it:
POSIX character classes (``[[:alpha:]]``) become the ASCII ranges git uses, and a pattern that
cannot be compiled (``[z-a]``, ``[[:nope:]]``, a trailing ``\\``) matches nothing, as in git.
"""
from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

_POSIX_CLASSES = {  # git's wildmatch, C locale
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "blank": " \t", "cntrl": "\x00-\x1f\x7f", "digit": "0-9",
    "graph": "\"-~!", "lower": "a-z", "print": " -~", "punct": "\"-.:-@[-^_`{-~!", "space": " \t\n\x0b\x0c\r",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",  # ranges name no "/": a segment never holds one
}
_CLASS = re.compile(r"\[:([a-z]*):\]")
_BRACKET = re.compile(r"\[!?\]?(?:\[:[a-z]*:\]|[^]])*\]")


class InvalidPattern(ValueError):
    """A pattern git would never match (an unknown character class)."""


def _expand_classes(pattern: str) -> str:
    def body(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _POSIX_CLASSES:
            raise InvalidPattern(name)
        return _POSIX_CLASSES[name]

    if "[:" not in pattern:
        return pattern
    return _BRACKET.sub(lambda bracket: _CLASS.sub(body, bracket.group()), pattern)


def _compile(lines: list[str]) -> "GitIgnoreSpec":
    from pathspec import GitIgnoreSpec  # only for a tree that has a .gitignore

    with warnings.catch_warnings():  # a "[[" that Python's re reads as a possible nested set
        warnings.simplefilter("ignore", FutureWarning)
        return GitIgnoreSpec.from_lines(lines)


class IgnoreFile:
    """The patterns of one ``.gitignore``, relative to its folder (paths are absolute strings)."""

    def __init__(self, base: str | os.PathLike[str], lines: list[str]) -> None:
        self.base = os.fspath(base)
        self._prefix = self.base.rstrip("/") + "/"
        valid = []
        for line in lines:
            try:
                expanded = _expand_classes(line)
                _compile([expanded])
            except (ValueError, re.error):  # pathspec's pattern errors are ValueErrors
                continue
            valid.append(expanded)
        self.spec = _compile(valid)
        self._any = _union(self.spec)
        from pathspec.util import normalize_file

        self._normalized = normalize_file  # (the spec's own normalization of a path)

    def match(self, path: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no pattern applies)."""
        if path.startswith(self._prefix):
            rel = path[len(self._prefix):]
        elif path == self.base:
            rel = "."
        else:
            return None
        target = rel + "/" if is_dir else rel
        if self._any is not None and self._any(self._normalized(target)) is None:
            return None  # no pattern matches (most paths): one search, not one per pattern
        return self.spec.check_file(target).include


_ANY_DEPTH = "^(?:.+/)?"  # how pathspec begins a pattern that matches a name in any folder
_GROUP = re.compile(r"\(\?P<[^>]*>")
_BACKREFERENCE = re.compile(r"\(\?P=|\\[1-9]")


def _union(spec: "GitIgnoreSpec") -> Callable[[str], re.Match[str] | None] | None:
    """A test that finds a match in a path exactly where one of the spec's patterns does (the
    spec searches with each in turn): their regexes joined, matched at the start when each is
    anchored there; ``None`` where they cannot be joined (another pattern type, differing flags,
    a back-reference), and each is tried as before."""
    regexes = []
    for pattern in spec.patterns:
        if pattern.include is None:
            continue  # (a comment or blank line: the spec skips it)
        regex = getattr(pattern, "regex", None)
        if not isinstance(regex, re.Pattern) or not isinstance(regex.pattern, str) \
                or _BACKREFERENCE.search(regex.pattern):
            return None
        regexes.append(regex)
    if not regexes:
        return re.compile("(?!)").match
    if len({regex.flags for regex in regexes}) > 1 or regexes[0].flags & re.MULTILINE:
        return None
    # a name at any depth (most patterns) begins with the same prefix: joined after it, so that the
    # path's folders are tried once, not once per pattern
    anywhere = [r.pattern[len(_ANY_DEPTH):] for r in regexes if r.pattern.startswith(_ANY_DEPTH)]
    others = [r.pattern for r in regexes if not r.pattern.startswith(_ANY_DEPTH)]
    branches = [f"{_ANY_DEPTH}(?:{'|'.join(anywhere)})"] if anywhere else []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            union = re.compile("|".join(f"(?:{_GROUP.sub('(?:', branch)})" for branch in branches + others),
                               regexes[0].flags)
    except re.error:
        return None
    # "^" matches only at the start (no MULTILINE): a search with regexes that all begin with it
    # is a match there, without trying each alternative at every position
    return union.match if all(regex.pattern.startswith("^") for regex in regexes) else union.search


def is_ignored(path: str, chain: list[IgnoreFile], is_dir: bool) -> bool:
    """The verdict of the last ``.gitignore`` of ``chain`` (outermost first) with a pattern for
    the absolute path."""
    verdict = False
    for rules in chain:
        result = rules.match(path, is_dir)
        if result is not None:
            verdict = result
    return verdict
