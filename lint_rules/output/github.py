"""GitHub Actions workflow commands: ``::error``/``::warning``/``::notice`` annotations."""
from __future__ import annotations

from typing import Sequence

from ..violation import Violation

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render(violations: Sequence[Violation]) -> str:
    out = []
    for v in violations:
        props = ",".join([
            f"title={_escape(f'lora-lint ({v.code})', True)}",
            f"file={_escape(v.filename, True)}",
            f"line={v.location.row}", f"col={v.location.column}",
            f"endLine={v.end_location.row}", f"endColumn={v.end_location.column}",
        ])
        cell = v.extra.get("cell")
        where = f"cell {cell}:" if cell is not None else ""
        out.append(f"::{_COMMAND[v.severity]} {props}::{_escape(f'{where}{v.code} {v.message}')}\n")
    return "".join(out)
