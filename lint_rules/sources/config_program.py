"""A configuration file's LoRA settings as the one ``LoraConfig(...)`` call the rules check.

A config source (``adapter_config``, ``trainer_yaml``) reads its file into ``Setting`` records:
a peft ``LoraConfig`` field, its value, and where its key and value are written. ``Document``
writes them as a small Python program, one keyword per row::

    from peft import LoraConfig

    LoraConfig(
        r=16,
        target_modules=['q_proj', 'v_proj'],
    )

which the engine checks like any file (``kind`` tells the rules what the file is). Each
position in that program maps back to the file: a keyword's name to its key, its value to the
value as written, a list element to that element; what is about the whole call, to the
document's ``anchor``. A fix is read back the same way: the fixed program's keywords are
compared with the settings, and each changed value is written in place of the old one in the
file's own syntax (``Setting.render``), each removed keyword takes its entry out
(``Setting.remove``); a fix that does anything else is not offered. Everything else in the
file stays byte for byte.
"""
from __future__ import annotations

import ast
import keyword
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..errors import FixError
from ..suppression import ALL, NoqaMap, exemptions_in
from ..violation import FixInfo, Location, TextEdit, Violation, fixable
from .base import Checker, FixResult

Span = tuple[int, int]  # [start, end) offsets in the document's text
MAX_FIX_ROUNDS = 10
_HEADER = "from peft import LoraConfig\n\nLoraConfig(\n"
_FIRST_ROW = _HEADER.count("\n") + 1  # the row of the first keyword
_INDENT = "    "


class Unknown:
    """A value the framework decides at run time: written as a name nothing binds (unknown to the rules)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()
_UNKNOWN_NAME = "_set_by_the_trainer"


@dataclass
class Setting:
    """One ``LoraConfig`` keyword read from the file.

    ``key``: where its key is written (what a finding about the keyword points at); ``at``: where
    its value is written, ``None`` when the value is derived (a framework default, another key's
    meaning): then no fix may change it. ``items``: where each element of a list value is written.
    ``render``: the file's text for a new value (``None``: it cannot be written there);
    ``remove``: the span that takes the whole entry out of the file.
    """

    name: str
    value: Any
    key: Span
    at: Span | None = None
    items: list[Span] | None = None
    render: Callable[[Any], str | None] | None = None
    remove: Span | None = None


@dataclass
class _Row:
    setting: Setting
    value_col: int  # 0-based column where the value starts in the program
    item_cols: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Document:
    """A config file's settings, the program that stands for them, and the way back."""

    kind: str  # RuleContext.source_kind: "adapter_config", "axolotl", "llamafactory"
    text: str
    settings: list[Setting]
    anchor: Span  # what a finding about the whole config points at
    reread: Callable[[str], Any]  # parses a fixed text; raises ValueError when it is broken
    model_key: str = "base_model_name_or_path"  # the file's key for the model, as messages name it
    # the file's comments as ``(row, text, alone on its row)``, for ``# noqa``; None: the format has none (JSON)
    comments: Callable[[str], list[tuple[int, str, bool]]] | None = None
    added_tokens: tuple[str, ...] = ()  # the file's keys that add tokens (a trainer YAML's; RuleContext's)
    program: str = ""
    rows: list[_Row] = field(default_factory=list)

    def __post_init__(self) -> None:
        chosen: dict[str, Setting] = {}
        for setting in self.settings:  # a key written twice: the later one holds (as json/yaml read it)
            if setting.name.isidentifier() and not keyword.iskeyword(setting.name):
                chosen.pop(setting.name, None)
                chosen[setting.name] = setting
        lines = [_HEADER]
        for setting in chosen.values():
            head = f"{_INDENT}{setting.name}="
            text, items = _python(setting.value)
            self.rows.append(_Row(setting, len(head), [(len(head) + a, len(head) + b) for a, b in items]))
            lines.append(f"{head}{text},\n")
        lines.append(")\n")
        self.program = "".join(lines)
        self._index = _line_index(self.text)

    # -- positions ---------------------------------------------------------------------

    def _row(self, location: Location) -> _Row | None:
        number = location.row - _FIRST_ROW
        return self.rows[number] if 0 <= number < len(self.rows) else None

    def _span(self, location: Location) -> Span:
        """The span of the file a position in the program stands for."""
        row = self._row(location)
        if row is None:
            return self.anchor
        column = location.column - 1
        setting = row.setting
        if setting.items is not None and len(setting.items) == len(row.item_cols):
            for (first, last), span in zip(row.item_cols, setting.items):
                if first <= column < last:
                    return span
        if column >= row.value_col and setting.at is not None:
            return setting.at
        return setting.key

    def unsuppressed(self, found: list[Violation]) -> list[Violation]:
        """The program's violations that no ``# noqa`` comment of the file suppresses: one on a row
        of the finding's span or of its key (a list element's key too), or alone on the row above;
        ``# lora-lint: noqa`` alone on a row turns codes off for the file."""
        notes = self.comments(self.text) if self.comments is not None and "noqa" in self.text.lower() else []
        if not notes:
            return found
        off = exemptions_in(notes)
        noqa = NoqaMap.from_comments(notes)
        kept = []
        for violation in found:
            if ALL in off or violation.code in off:
                continue
            start, end = self._span(violation.location)
            row = self._row(violation.location)
            spans = [(self._index.location(start).row, self._index.location(end).row)]
            if row is not None:
                key = self._index.location(row.setting.key[0]).row
                spans.append((key, key))
            if not any(noqa.suppresses(violation.code, first, last) for first, last in spans):
                kept.append(violation)
        return kept

    def place(self, violation: Violation) -> Violation:
        """The violation with positions in the file and its fix as edits of the file (or none)."""
        start, end = self._span(violation.location)
        fix = violation.fix
        if fix is not None:
            edits = self._edits(fix.edits)
            fix = FixInfo(fix.applicability, fix.message, edits) if edits else None
        message = violation.message.replace("from base_model_name_or_path", f"from {self.model_key}")
        return replace(violation, message=message, location=self._index.location(start),
                       end_location=self._index.location(end), fix=fix)

    # -- fixes -------------------------------------------------------------------------

    def _edits(self, edits: tuple[TextEdit, ...]) -> tuple[TextEdit, ...]:
        """The program's fix as edits of the file; empty when it cannot be written there."""
        fixed = _keywords(apply_edits(self.program, edits))
        if fixed is None:
            return ()
        before = {row.setting.name: row.setting for row in self.rows}
        if not fixed.keys() <= before.keys():
            return ()  # a keyword added: the file's layout for it is not known
        pieces: list[tuple[int, int, str]] = []
        for name, setting in before.items():
            if name not in fixed:
                if setting.remove is None:
                    return ()
                pieces.append((*setting.remove, ""))
                continue
            new = fixed[name]
            if isinstance(new, _Code):
                if new.text != _python(setting.value)[0]:
                    return ()  # a value the file does not hold as a literal, changed
                continue
            if _same(new, setting.value):
                continue
            text = setting.render(new) if setting.render is not None and setting.at is not None else None
            if text is None:
                return ()
            pieces.append((*setting.at, text))
        pieces.sort()
        if any(a[1] > b[0] for a, b in zip(pieces, pieces[1:])):
            return ()
        return tuple(TextEdit(text, self._index.location(start), self._index.location(end))
                     for start, end, text in pieces)


def lint(checker: Checker, document: Document | None, filename: str, relpath: str | None) -> list[Violation]:
    """The rules' findings on the document's settings, placed in the file."""
    if document is None or not document.rows:
        return []
    found = document.unsuppressed(checker.lint_python(document.program, filename, relpath, kind=document.kind,
                                                      added_tokens=document.added_tokens))
    return sorted((document.place(v) for v in found),
                  key=lambda v: (v.location.row, v.location.column, v.code))


def fix(checker: Checker, read: Callable[[str], Document | None], text: str, filename: str,
        relpath: str | None, *, unsafe: bool) -> FixResult:
    """Apply the fixes that can be written in the file, round after round, re-reading the file
    each time; a fixed text that no longer parses is refused (the file stays as it was)."""
    current, done = text, []
    for _ in range(MAX_FIX_ROUNDS):
        document = read(current)
        found = lint(checker, document, filename, relpath)
        chosen, taken = [], []
        for violation in found:
            if not fixable(violation, unsafe):
                continue
            spans = [(_offset(current, e.location), _offset(current, e.end_location)) for e in violation.fix.edits]
            if any(a < d and c < b or a == b == c == d for a, b in spans for c, d in taken):
                continue
            chosen.append(violation)
            taken += spans
        if document is None or not chosen:
            return FixResult(current, found, done)
        fixed = apply_edits(current, tuple(e for v in chosen for e in v.fix.edits))
        try:
            document.reread(fixed)
        except ValueError as exc:
            codes = ", ".join(sorted({v.code for v in chosen}))
            raise FixError(f"{filename}: the fix for {codes} would break the file ({exc}); file left unchanged") from exc
        if fixed == current:
            break
        current, done = fixed, done + chosen
    return FixResult(current, lint(checker, read(current), filename, relpath), done)


def lint_text(checker: Checker, document_of: Callable, text: str, filename: str,
              relpath: str | None) -> list[Violation]:
    """A config source's ``lint``: ``document_of(checker, text, filename, relpath)`` reads the file
    into its ``Document`` (None: not one of its files) and the problems that stop it (``LORA000``)."""
    document, problems = document_of(checker, text, filename, relpath)
    return problems or lint(checker, document, filename, relpath)


def fix_text(checker: Checker, document_of: Callable, read: Callable[[str], "Document | None"], text: str,
             filename: str, relpath: str | None, *, unsafe: bool) -> FixResult:
    """A config source's ``fix``, reading the file as ``lint_text`` does."""
    document, problems = document_of(checker, text, filename, relpath)
    if problems or document is None:
        return FixResult(text, problems)
    return fix(checker, read, text, filename, relpath, unsafe=unsafe)


def without_bom(text: str) -> str:
    """The text to parse: a leading BOM (stdin keeps it) read as a space, so offsets stay the file's."""
    return " " + text[1:] if text.startswith("\ufeff") else text


def apply_edits(text: str, edits: tuple[TextEdit, ...]) -> str:
    """``text`` with the edits (1-based locations, not overlapping) applied."""
    for edit in sorted(edits, key=lambda e: (e.location.row, e.location.column), reverse=True):
        text = text[:_offset(text, edit.location)] + edit.content + text[_offset(text, edit.end_location):]
    return text


def _line_index(text: str) -> Any:
    from ..positions import LineIndex  # libcst comes with it: only once a file is linted

    return LineIndex(text)


def _offset(text: str, location: Location) -> int:
    start = _line_index(text).offset(location.row)
    return (start if start is not None else len(text)) + location.column - 1


# -- Python text of a value, and back --------------------------------------------------------

@dataclass(frozen=True)
class _Code:
    """A keyword's value in a fixed program that is not a literal: its source text."""

    text: str


def _python(value: Any) -> tuple[str, list[tuple[int, int]]]:
    """The value as Python source, and the columns of each element when it is a list of scalars."""
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        parts, items, column = [], [], 1
        for element in value:
            text = _literal(element)
            items.append((column, column + len(text)))
            parts.append(text)
            column += len(text) + 2
        return "[" + ", ".join(parts) + "]", items
    return _literal(value), []


def _literal(value: Any) -> str:
    if value is UNKNOWN:
        return _UNKNOWN_NAME
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({repr(str(value))})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return _UNKNOWN_NAME  # a date, a set of YAML: nothing a rule reads


def _keywords(program: str) -> dict[str, Any] | None:
    """The keywords of the program's ``LoraConfig(...)`` call and their literal values (their
    ``_Code`` when not literals); ``None`` when the program is no longer that one call."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    if len(calls) != 1 or calls[0].args or any(k.arg is None for k in calls[0].keywords):
        return None
    found: dict[str, Any] = {}
    for item in calls[0].keywords:
        try:
            found[item.arg] = ast.literal_eval(item.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            found[item.arg] = _Code(ast.get_source_segment(program, item.value) or "")
    return found


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if not isinstance(a, (list, tuple)) else (
        isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b)))
