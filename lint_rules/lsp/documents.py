"""Linting what the editor holds: a text document, or a notebook's cells, into findings per
document with the LSP diagnostics that show them.

A document is linted as ``lora-lint`` would lint the file at its path (that path's settings,
per-file-ignores, ``exclude``); the engine chooses by the name how to read it (a ``.ipynb`` name:
a notebook's JSON). A notebook the client syncs as a notebook is rebuilt from its cells and
linted as one; each finding goes to its cell's document, in that cell's own coordinates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from lsprotocol import types

from .. import sources
from ..add_noqa import add_noqa
from ..discovery import SUFFIXES
from ..notebook_lines import json_line
from ..reading import FILE_LIMIT, SOURCE_LIMIT, size_text
from ..violation import Location, Violation
from .positions import Lines
from .projects import Projects

SOURCE = "lora-lint"
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning,
             "info": types.DiagnosticSeverity.Information}
CONFIG_FILES = ("pyproject.toml", "lora-lint.toml")


@dataclass
class Finding:
    """A violation and the range it covers in the document's LSP coordinates."""

    violation: Violation
    range: types.Range
    edits: list[types.TextEdit] | None = None  # its fix, when the fix can be written in this document

    def diagnostic(self) -> types.Diagnostic:
        v = self.violation
        fix = v.fix.applicability if v.fix is not None and self.edits is not None else None
        return types.Diagnostic(
            range=self.range, message=v.message, severity=_SEVERITY[v.severity], code=v.code,
            code_description=types.CodeDescription(href=v.url) if v.url else None, source=SOURCE,
            data={"name": v.name, "fix": fix})


@dataclass
class Linted:
    """One document's findings, as of the text (and version) they were computed from."""

    uri: str
    version: int | None
    text: str
    findings: list[Finding] = field(default_factory=list)
    fixable: bool = True  # a whole-document fix is possible (a Python file, not a notebook cell)
    suppressible: bool = True  # where a "# noqa" comment can be added (Python, YAML; not JSON)

    def diagnostics(self) -> list[types.Diagnostic]:
        return [f.diagnostic() for f in self.findings]


def wants(path: str | None, language_id: str | None) -> bool:
    """A document lora-lint lints: a file with a suffix it walks, or Python by its language."""
    if path is not None and path.endswith(SUFFIXES):
        return True
    return language_id == "python"


def _range(lines: Lines, start: Location, end: Location) -> types.Range:
    (a, b), (c, d) = lines.position(start), lines.position(end)
    return types.Range(types.Position(a, b), types.Position(c, d))


def findings_in(text: str, violations: Iterable[Violation], encoding: str) -> list[Finding]:
    """Findings in a Python text (a file, or one notebook cell): ranges and fix edits converted."""
    lines = Lines(text, encoding)
    found = []
    for v in violations:
        edits = None
        if v.fix is not None and v.fix.edits:
            edits = [types.TextEdit(_range(lines, e.location, e.end_location), e.content) for e in v.fix.edits]
        found.append(Finding(v, _range(lines, v.location, v.end_location), edits))
    return found


def findings_in_notebook_json(text: str, violations: Iterable[Violation], encoding: str) -> list[Finding]:
    """Findings in a notebook shown as its JSON text: each at the line that holds its cell's row
    (a fix there would need JSON escaping, so none is offered per finding)."""
    lines = Lines(text, encoding)
    found = []
    for v in violations:
        cell = v.extra.get("cell")
        row = json_line(text, cell, v.location.row) if cell is not None else v.location.row
        line = lines.rows[row - 1] if 0 < row <= len(lines.rows) else ""
        start = Location(row, len(line) - len(line.lstrip()) + 1)
        found.append(Finding(v, _range(lines, start, Location(row, len(line.rstrip()) + 1))))
    return found


def noqa_edit(text: str, violation: Violation, encoding: str, path: Path) -> types.TextEdit | None:
    """The edit that adds ``# noqa: CODE`` for the finding (to the first of its lines that can
    take a comment, as ``--add-noqa`` does), or ``None`` where no line can (a JSON file has none)."""
    rows = sources.for_name(path.name).noqa_rows
    if rows is None:
        return None
    new, added = add_noqa(text, [violation], rows)
    if not added:
        return None
    old_rows, new_rows = Lines(text, encoding).rows, Lines(new, encoding).rows
    row = next(i for i, (a, b) in enumerate(zip(old_rows, new_rows)) if a != b)
    lines = Lines(text, encoding)
    return types.TextEdit(_range(lines, Location(row + 1, 1), Location(row + 1, len(old_rows[row]) + 1)),
                          new_rows[row])


def too_large(text: str, notebook: bool) -> str | None:
    limit = FILE_LIMIT if notebook else SOURCE_LIMIT
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
        return f"not linted: over the {size_text(limit)} limit"
    return None


def lint_text(projects: Projects, path: Path, text: str) -> list[Violation]:
    """The violations in ``text``, linted as the file at ``path`` (which need not exist)."""
    project = projects.for_folder(path.parent)
    if project.excluded(path):
        return []
    return project.linter.lint(text, str(path), relpath=project.relpath(path))


def notebook_json(cells: list[tuple[types.NotebookCell, str, str | None]]) -> str:
    """nbformat 4 text of cells given as ``(cell, text, language id)``."""
    data = {
        "cells": [{"cell_type": "code" if cell.kind == types.NotebookCellKind.Code else "markdown",
                   "metadata": {"vscode": {"languageId": language}} if language else {},
                   "source": text} for cell, text, language in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(data)
