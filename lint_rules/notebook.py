"""Jupyter notebooks: code cells joined into one Python text, IPython magics blanked out.

Positions are reported per cell (``Violation.extra["cell"]``, 1-based among all cells, as the
notebook shows them) with rows counted inside the cell. Fixes are mapped back cell by cell.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import FixError
from .violation import FixInfo, Location, TextEdit, Violation, split_rows

if TYPE_CHECKING:
    from .engine import FixResult, Linter

_MAGIC_RE = re.compile(r"^\s*(?:[%!]|\w+\s*=\s*[%!]|[\w.]+\?{1,2}\s*$|\?)")
_MARKER = "# lora-lint: cell boundary\n"
_PLACEHOLDER = "pass  # lora-lint: magic"


@dataclass
class _Virtual:
    source: str = ""
    origin: list[tuple[int, int] | None] = field(default_factory=list)  # per line: (cell, row) or None


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _magics(lines: list[str]) -> list[bool]:
    """Per line of a code cell: is it IPython rather than Python (every line of a ``%%`` cell)?"""
    cell_magic = bool(lines) and lines[0].lstrip().startswith("%%")
    return [cell_magic or bool(_MAGIC_RE.match(line)) for line in lines]


def _virtual(notebook: dict) -> _Virtual:
    virtual = _Virtual()
    parts: list[str] = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        lines = split_rows(_cell_text(cell))
        for row, (line, magic) in enumerate(zip(lines, _magics(lines)), start=1):
            if magic:
                line = line[: len(line) - len(line.lstrip())] + _PLACEHOLDER
            parts.append(line + "\n")
            virtual.origin.append((number, row))
        parts.append(_MARKER)
        virtual.origin.append(None)
    virtual.source = "".join(parts)
    return virtual


def _load(text: str) -> dict:
    """The notebook; a ``ValueError`` (its LORA000 message) for text that is not one."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("not a valid notebook (JSON could not be read)") from exc
    if not isinstance(notebook, dict):
        raise ValueError("not a valid notebook")
    cells = notebook.get("cells", [])
    if not isinstance(cells, list) or not all(_valid_cell(cell) for cell in cells):
        raise ValueError("not a valid notebook (malformed cells)")
    return notebook


def _valid_cell(cell: object) -> bool:
    """An object whose ``source``, if a list, is a list of strings."""
    if not isinstance(cell, dict):
        return False
    source = cell.get("source", "")
    return not isinstance(source, list) or all(isinstance(part, str) for part in source)


def _place(location: Location, virtual: _Virtual) -> tuple[int, Location]:
    index = min(max(location.row - 1, 0), len(virtual.origin) - 1)
    origin = virtual.origin[index]
    while origin is None and index > 0:  # a position on a boundary line belongs to the cell above
        index -= 1
        origin = virtual.origin[index]
    cell, row = origin or (1, 1)
    return cell, Location(row, location.column)


def _map(violation: Violation, virtual: _Virtual) -> Violation:
    cell, start = _place(violation.location, virtual)
    _, end = _place(violation.end_location, virtual)
    fix = violation.fix
    if fix is not None:
        edits = tuple(TextEdit(e.content, _place(e.location, virtual)[1], _place(e.end_location, virtual)[1])
                      for e in fix.edits)
        fix = FixInfo(fix.applicability, fix.message, edits)
    return replace(violation, location=start, end_location=end, fix=fix, extra={**violation.extra, "cell": cell})


def lint(linter: "Linter", text: str, filename: str, relpath: str | None) -> list[Violation]:
    try:
        notebook = _load(text)
    except ValueError as exc:
        return linter.invalid_file(filename, str(exc), relpath)
    return _lint(linter, notebook, filename, relpath)


def _lint(linter: "Linter", notebook: dict, filename: str, relpath: str | None) -> list[Violation]:
    virtual = _virtual(notebook)
    if not virtual.source:
        return []
    return [_map(v, virtual) for v in linter.lint_python(virtual.source, filename, relpath)]


def fix(linter: "Linter", text: str, filename: str, relpath: str | None, *, unsafe: bool) -> "FixResult":
    from .engine import FixResult

    try:
        notebook = _load(text)
    except ValueError as exc:  # nothing to fix
        return FixResult(text, linter.invalid_file(filename, str(exc), relpath))
    virtual = _virtual(notebook)
    result = linter.fix_python(virtual.source, filename, unsafe=unsafe, relpath=relpath)
    if result.applied == 0:
        return FixResult(text, [_map(v, virtual) for v in result.violations])
    _write_back(notebook, result.source, filename)
    fixed = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return FixResult(fixed, _lint(linter, notebook, filename, relpath), [_map(v, virtual) for v in result.fixed])


def _write_back(notebook: dict, source: str, filename: str) -> None:
    """Split fixed Python back into the code cells, restoring each magic line."""
    cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    chunks = source.split(_MARKER)
    if len(chunks) != len(cells) + 1 or chunks[-1].strip():
        raise FixError(f"{filename}: a fix crossed a notebook cell boundary; notebook left unchanged")
    for cell, chunk in zip(cells, chunks):
        original = _cell_text(cell)
        before = split_rows(original)
        magics = iter([line for line, magic in zip(before, _magics(before)) if magic])
        lines = []
        for line in split_rows(chunk):
            if line.strip() == _PLACEHOLDER:
                line = next(magics, None)
                if line is None:
                    raise FixError(f"{filename}: a fix changed an IPython magic line; notebook left unchanged")
            lines.append(line)
        text = "\n".join(lines) + ("\n" if original.endswith("\n") else "")
        cell["source"] = text.splitlines(keepends=True)
