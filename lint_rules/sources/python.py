"""Python sources (``.py``, ``.pyi`` and any file of another name): checked as they are."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..add_noqa import comment_rows
from . import names
from .base import Checker, FixResult

if TYPE_CHECKING:
    from ..prefilter import Prefilter
    from ..violation import Violation

KIND = "python"
SUFFIXES = names.SUFFIXES[KIND]
noqa_rows = comment_rows


def walked(name: str) -> bool:
    return names.walked(KIND, name)


def worth_linting(text: str, prefilter: "Prefilter") -> bool:
    return prefilter.mentions(text)


def lint(checker: Checker, text: str, filename: str, relpath: str | None) -> "list[Violation]":
    return checker.lint_python(text, filename, relpath)


def fix(checker: Checker, text: str, filename: str, relpath: str | None, *, unsafe: bool) -> FixResult:
    return checker.fix_python(text, filename, unsafe=unsafe, relpath=relpath)
