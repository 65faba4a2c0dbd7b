"""One line per violation: ``path:row:col: CODE [*] message`` (``[*]``: ``--fix`` fixes it)."""
from __future__ import annotations

from typing import Sequence

from ..violation import Violation
from . import fixable, position


def line(violation: Violation, unsafe: bool = False) -> str:
    mark = " [*]" if fixable(violation, unsafe) else ""
    return f"{violation.filename}:{position(violation)}: {violation.code}{mark} {violation.message}"


def render(violations: Sequence[Violation], *, unsafe: bool = False) -> str:
    return "".join(line(v, unsafe) + "\n" for v in violations)
