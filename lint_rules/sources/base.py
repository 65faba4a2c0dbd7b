"""What every source shares: the result of fixing one file, and what a source needs of the engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..violation import Location, Violation

if TYPE_CHECKING:
    from ..prefilter import Prefilter


@dataclass
class FixResult:
    source: str
    violations: list[Violation]  # what is left
    fixed: list[Violation] = field(default_factory=list)  # what the applied fixes took away

    @property
    def applied(self) -> int:
        return len(self.fixed)


class Checker(Protocol):
    """The engine's side (``engine.Linter``): Python checked, and the ``LORA000`` it reports."""

    def prefilter_for(self, source: str) -> "Prefilter": ...

    def lint_python(self, source: str, filename: str, relpath: str | None = None, *,
                    kind: str = "python", added_tokens: tuple[str, ...] = ()) -> list[Violation]: ...

    def fix_python(self, source: str, filename: str, *, unsafe: bool = False,
                   relpath: str | None = None) -> FixResult: ...

    def invalid_file(self, filename: str, message: str, relpath: str | None = None) -> list[Violation]: ...

    def syntax_error(self, source: str, filename: str, relpath: str | None, message: str,
                     start: Location) -> list[Violation]: ...
