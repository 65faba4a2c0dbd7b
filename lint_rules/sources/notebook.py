"""Jupyter notebooks: the Python of the code cells, linted as one program, reported per cell.

Which rows of a cell are Python follows IPython (``lint_rules.ipython``: magics, shell escapes,
indented cells, a one-line cell run as a magic unless an earlier cell binds its first word:
``lint_rules.notebook_bindings``). The code cells are joined in order, a boundary comment
between them. A cell that CPython cannot compile on its own (Jupyter could not run it either) is
``LORA000`` for that cell and is left out, so the other cells are still linted; on Python older
than 3.12, not for f-strings that 3.12 accepts (``_newer_f_string``).

Positions are per cell (``Violation.extra["cell"]``, 1-based among all cells as the notebook
shows them, markdown included), with the row and column of the cell's own text. A fix rewrites
the fixed cell's source inside the JSON text and nothing else (``lint_rules.notebook_json``).
nbformat 3 notebooks (``worksheets[].cells[]``, code in ``input``) are read too; notebooks whose
kernel language is not Python, and cells marked as another language, are skipped.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from .. import notebook_json
from ..config import SYNTAX_ERROR
from ..errors import FixError
from ..ipython import Row, python_rows
from ..notebook_bindings import Bindings
from ..violation import FixInfo, Location, TextEdit, Violation, split_rows
from . import names
from .base import Checker, FixResult

if TYPE_CHECKING:
    from ..prefilter import Prefilter

KIND = "notebook"
SUFFIXES = names.SUFFIXES[KIND]
noqa_rows = None  # a # noqa goes in the cell's code, not in the notebook's JSON

def walked(name: str) -> bool:
    return names.walked(KIND, name)


def worth_linting(text: str, prefilter: "Prefilter") -> bool:
    """Always read: a notebook that is no JSON is LORA000 (the cells' text decides the rest)."""
    return True


_PYTHON = re.compile(r"i?python[\d.]*", re.IGNORECASE)
_MARKER = "# lora-lint: cell boundary"
_F_STRING = re.compile(r"(?<![\w])(?:[fF][rR]?|[rR][fF])[\"']")
_ROW_END = re.compile(r"(\r\n|\r|\n)")


@dataclass
class _Notebook:
    data: dict
    cells: list[dict]  # every cell, in the order the notebook shows them
    key: str  # where a cell's code is: "source", or "input" in nbformat 3
    in_worksheets: bool


@dataclass(eq=False)
class _Cell:
    number: int
    text: str
    rows: list[Row]
    broken: tuple[str, Location] | None = None  # its LORA000: message and position in the cell

    def lines(self) -> list[str]:
        """Its rows in the joined program; a broken cell keeps only its comments (``# noqa``)."""
        if self.broken is None:
            return [row.text for row in self.rows]
        return [row.text if row.python and row.text.lstrip().startswith("#") else "" for row in self.rows]


@dataclass
class _Program:
    source: str
    marker: str
    origin: list[tuple[_Cell, int] | None]  # per row of ``source``: the cell and its row there


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _load(text: str) -> _Notebook:
    """The notebook; a ``ValueError`` (its LORA000 message) for text that is not one. An empty
    file is a notebook without cells, as editors open it (a placeholder a repository commits)."""
    if not text.strip():
        return _Notebook({}, [], "source", False)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError("not a valid notebook (JSON could not be read)") from exc
    if not isinstance(data, dict):
        raise ValueError("not a valid notebook")
    in_worksheets = "cells" not in data and "worksheets" in data
    key = "input" if in_worksheets else "source"
    if in_worksheets:
        sheets = data["worksheets"]
        if not isinstance(sheets, list) or not all(isinstance(s, dict) for s in sheets):
            raise ValueError("not a valid notebook (malformed worksheets)")
        cells = [cell for sheet in sheets for cell in _list(sheet.get("cells", []))]
    else:
        cells = _list(data.get("cells", []))
    if not all(_valid_cell(cell, key) for cell in cells):
        raise ValueError("not a valid notebook (malformed cells)")
    return _Notebook(data, cells, key, in_worksheets)


def _list(cells: Any) -> list:
    if not isinstance(cells, list):
        raise ValueError("not a valid notebook (malformed cells)")
    return cells


def _valid_cell(cell: object, key: str) -> bool:
    """An object whose code, if a list, is a list of strings."""
    if not isinstance(cell, dict):
        return False
    source = cell.get(key, "")
    return not isinstance(source, list) or all(isinstance(part, str) for part in source)


def _is_python(language: Any) -> bool:
    return not isinstance(language, str) or not language.strip() or bool(_PYTHON.fullmatch(language.strip()))


def _field(data: Any, *path: str) -> Any:
    for name in path:
        data = data.get(name) if isinstance(data, dict) else None
    return data


def _kernel_runs_python(meta: Any) -> bool:
    """Unless the notebook names another language (R, Julia) and nothing about Python: a PySpark
    kernel says ``pyspark`` but highlights its code as ``python3``."""
    named = [_field(meta, "kernelspec", "language"), _field(meta, "language_info", "name")]
    if all(_is_python(name) for name in named):
        return True
    hints = [_field(meta, "language_info", key) for key in ("pygments_lexer", "mimetype", "file_extension")]
    return any(isinstance(hint, str) and ("python" in hint.lower() or hint == ".py") for hint in hints)


def _code_cells(notebook: _Notebook) -> list[_Cell]:
    """The Python code cells; none when the kernel's language is not Python (an R notebook)."""
    if not _kernel_runs_python(notebook.data.get("metadata")):
        return []
    cells = []
    bindings = Bindings()  # what earlier cells bind shadows a magic of that name
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code" or not _is_python(cell.get("language")) \
                or not _is_python(_field(cell, "metadata", "vscode", "languageId")):
            continue
        text = _text(cell.get(notebook.key, ""))
        cells.append(_Cell(number, text, python_rows(split_rows(text), bindings.bound)))
        bindings.add(cells[-1].rows)
    return cells


def cell_text(text: str, number: int) -> str | None:
    """The code of cell ``number`` (1-based, as positions give it) of a notebook's JSON text."""
    try:
        notebook = _load(text)
    except ValueError:
        return None
    if not 1 <= number <= len(notebook.cells):
        return None
    return _text(notebook.cells[number - 1].get(notebook.key, ""))


def _compile_error(cell: _Cell) -> tuple[str, Location] | None:
    """Why CPython cannot compile the cell on its own, and where; ``None`` if it can."""
    source = "".join(row.text + "\n" for row in cell.rows)
    try:
        compile(source, "<cell>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        if _newer_f_string(source):
            return None
        row = min(max(err.lineno or 1, 1), len(cell.rows)) if cell.rows else 1
        prefix = len(cell.rows[row - 1].prefix) if cell.rows else 0
        return f"SyntaxError: {err.msg}", Location(row, max(err.offset or 1, 1) + prefix)
    except ValueError as err:  # null bytes (a SyntaxError from Python 3.12)
        return f"SyntaxError: {err}", Location(1, 1)
    except (MemoryError, RecursionError):  # the engine's parse decides
        return None
    return None


def _newer_f_string(source: str) -> bool:
    """Whether CPython older than 3.12 rejects the cell only for f-strings that Python 3.12
    accepts (PEP 701: its own quotes, a backslash or a comment inside the braces; Colab runs
    3.12): libcst, which reads that grammar, parses the cell, and CPython compiles it once each
    f-string is an empty string. The engine's parse then decides."""
    if sys.version_info >= (3, 12) or not _F_STRING.search(source):
        return False
    import libcst

    from ..parsing import parse

    class Unformatted(libcst.CSTTransformer):
        def leave_FormattedString(self, original: libcst.FormattedString,
                                  updated: libcst.FormattedString) -> libcst.SimpleString:
            return libcst.SimpleString('""')

    try:
        plain = parse(source).visit(Unformatted()).code
        compile(plain, "<cell>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (libcst.ParserSyntaxError, SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _program(cells: list[_Cell]) -> _Program:
    marker = _MARKER
    while any(marker in cell.text for cell in cells):  # no row of a cell may look like the boundary
        marker += "-"
    lines: list[str] = []
    origin: list[tuple[_Cell, int] | None] = []
    for cell in cells:
        rows = cell.lines()
        lines += rows
        origin += [(cell, n) for n in range(1, len(rows) + 1)]
        lines.append(marker)
        origin.append(None)
    return _Program("".join(line + "\n" for line in lines), marker, origin)


def _place(location: Location, program: _Program) -> tuple[_Cell, Location]:
    """The cell of a position in the joined program, and the position in that cell's text."""
    index = min(max(location.row - 1, 0), len(program.origin) - 1)
    nearby = [*range(index, -1, -1), *range(index + 1, len(program.origin))]  # a boundary row: the cell above
    cell, row = next(origin for i in nearby if (origin := program.origin[i]) is not None)
    return cell, Location(row, location.column + len(cell.rows[row - 1].prefix))


def _map(violation: Violation, program: _Program) -> Violation:
    cell, start = _place(violation.location, program)
    _, end = _place(violation.end_location, program)
    fix = violation.fix
    if fix is not None:
        edits = tuple(TextEdit(e.content, _place(e.location, program)[1], _place(e.end_location, program)[1])
                      for e in fix.edits)
        fix = FixInfo(fix.applicability, fix.message, edits)
    return replace(violation, location=start, end_location=end, fix=fix,
                   extra={**violation.extra, "cell": cell.number})


def _analyse(linter: Checker, cells: list[_Cell], filename: str,
             relpath: str | None) -> tuple[_Program, list[Violation]]:
    """Lint the cells that parse; ``LORA000`` for each cell that does not."""
    for cell in cells:
        cell.broken = _compile_error(cell)
    for _ in range(len(cells) + 1):  # libcst may refuse a cell CPython accepts: leave it out too
        program = _program(cells)
        found = [_map(v, program) for v in linter.lint_python(program.source, filename, relpath)]
        error = next((v for v in found if v.code == SYNTAX_ERROR), None)
        cell = error and next(c for c in cells if c.number == error.extra["cell"])
        if cell is None or cell.broken is not None:
            break
        cell.broken = (error.message, error.location)
    found = [v for v in found if v.code != SYNTAX_ERROR]
    whole = "".join(cell.text + "\n" for cell in cells)
    for cell in cells:
        if cell.broken is not None:
            found += [replace(v, extra={"cell": cell.number})
                      for v in linter.syntax_error(whole, filename, relpath, *cell.broken)]
    found.sort(key=lambda v: (v.extra["cell"], v.location.row, v.location.column, v.code))
    return program, found


def _prepare(linter: Checker, text: str) -> tuple[_Notebook, list[_Cell]]:
    notebook = _load(text)
    cells = _code_cells(notebook)
    joined = "".join(cell.text for cell in cells)
    if not linter.prefilter_for(joined).mentions(joined):  # as a .py file: not parsed
        cells = []
    return notebook, cells


def lint(linter: Checker, text: str, filename: str, relpath: str | None) -> list[Violation]:
    try:
        _, cells = _prepare(linter, text)
    except ValueError as exc:
        return linter.invalid_file(filename, str(exc), relpath)
    return _analyse(linter, cells, filename, relpath)[1] if cells else []


def fix(linter: Checker, text: str, filename: str, relpath: str | None, *, unsafe: bool) -> FixResult:
    try:
        notebook, cells = _prepare(linter, text)
    except ValueError as exc:  # nothing to fix
        return FixResult(text, linter.invalid_file(filename, str(exc), relpath))
    if not cells:
        return FixResult(text, [])
    program, found = _analyse(linter, cells, filename, relpath)
    result = linter.fix_python(program.source, filename, unsafe=unsafe, relpath=relpath)
    if result.applied == 0:
        return FixResult(text, found)
    changed = _changed_cells(cells, program, result.source, filename)
    where = notebook_json.locate(text, notebook.key, notebook.in_worksheets)
    edits = []
    for cell, new in changed:
        old = notebook.cells[cell.number - 1].get(notebook.key, "")
        spot = where[cell.number - 1] if len(where) == len(notebook.cells) else None
        if spot is None or json.loads(text[spot.start:spot.end]) != old:
            raise FixError(f"{filename}: cannot find cell {cell.number}'s code in the JSON text; notebook left unchanged")
        edits.append((spot, old, new))
    fixed = notebook_json.replace(text, edits)
    return FixResult(fixed, lint(linter, fixed, filename, relpath), [_map(v, program) for v in result.fixed])


def _changed_cells(cells: list[_Cell], program: _Program, source: str, filename: str) -> list[tuple[_Cell, str]]:
    """Each cell the fixed program changes, with its new text."""
    chunks: list[list[str]] = [[]]
    for row in split_rows(source):
        if row == program.marker:
            chunks.append([])
        else:
            chunks[-1].append(row)
    if len(chunks) != len(cells) + 1 or any(row.strip() for row in chunks[-1]):
        raise FixError(f"{filename}: a fix crossed a notebook cell boundary; notebook left unchanged")
    changed = []
    for cell, new in zip(cells, chunks):
        old = cell.lines()
        if new == old:
            continue
        if cell.broken is not None:
            raise FixError(f"{filename}: a fix changed cell {cell.number}, which does not parse; notebook left unchanged")
        changed.append((cell, _new_text(cell, old, new, filename)))
    return changed


def _new_text(cell: _Cell, old: list[str], new: list[str], filename: str) -> str:
    """The cell's text with the fixed rows: untouched rows as they were (IPython lines, line
    endings, indentation IPython removes); changed rows with the cell's indentation and line ending."""
    parts = _ROW_END.split(cell.text)
    raw = list(zip(parts[0::2], [*parts[1::2], ""]))
    if raw and raw[-1] == ("", ""):
        raw.pop()
    ending = next((end for _, end in raw if end), "\n")
    rows: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += raw[i1:i2]
            continue
        if not all(cell.rows[i].python for i in range(i1, i2)):
            raise FixError(f"{filename}: a fix changed an IPython line in cell {cell.number}; notebook left unchanged")
        near = (i1, i1 - 1) if tag == "replace" else (i1 - 1, i1)
        prefix = next((cell.rows[i].prefix for i in near if 0 <= i < len(cell.rows) and cell.rows[i].python), "")
        rows += [(prefix + line if line else "", ending) for line in new[j1:j2]]
    if not rows:
        return ""
    last = raw[-1][1] if raw else ""
    return "".join(row + (end or ending) for row, end in rows[:-1]) + rows[-1][0] + last
