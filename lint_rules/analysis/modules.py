"""The project's own modules a file imports, read from disk and indexed, never imported or run.

``from .config import LORA`` is looked up next to the importing file, ``from myproj.settings
import lora_config`` under the importing file's folder and each folder above it up to the
project root (the nearest folder with ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or
``.git``) and its ``src/``. Without a project root only the file's own folder is searched
(a script next to its ``config.py``). A module is followed at most ``MAX_DEPTH`` imports
away; each file is parsed once per process (keyed by its size and modification time).
``ModuleReader.read`` lists every file read: a result depends on them too; every path
tested is noted in ``lint_rules.consulted`` (a module created later changes the result).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import libcst as cst

from .. import consulted
from ..parsing import MAX_CHAIN, nesting_error, parse, parse_pieces, split
from ..reading import UNDECODABLE, decode, present, read_bytes
from .index import FileIndex

MAX_DEPTH = 3
MAX_BYTES = 2_000_000
_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
_MAX_LEVELS = 12  # folders searched upwards for the project root


class ModuleReader:
    """Finds and indexes the modules imported by one file (``filename``) and, from them, others."""

    def __init__(self, filename: str) -> None:
        self.importer = Path(os.path.abspath(filename))
        self.read: list[str] = []
        self._depth: dict[str, int] = {}
        self._roots: tuple[Path, ...] | None = None

    @classmethod
    def for_file(cls, filename: str) -> "ModuleReader | None":
        """A reader for a file on disk; ``None`` for ``<stdin>`` and other names of no file."""
        return cls(filename) if filename and os.path.isfile(filename) else None

    def lookup(self, importer: str | None, module: str) -> tuple[FileIndex, str] | None:
        """The index of ``module`` (``".config"``, ``"myproj.settings"``) as imported by the
        file ``importer`` (``None``: the file being linted), and its path."""
        depth = self._depth.get(importer, 0) + 1 if importer is not None else 1
        if depth > MAX_DEPTH:
            return None
        base = Path(importer) if importer is not None else self.importer
        found = self._find(base, module)
        if found is None:
            return None
        path = str(found)
        if path == str(self.importer):
            return None  # the file itself: its own index already answers
        try:
            stat = found.stat()
        except OSError:  # gone since it was found
            return None
        index = _index(path, stat.st_mtime_ns, stat.st_size)
        if index is None:
            return None
        if path not in self._depth:
            self._depth[path] = depth
            self.read.append(path)
        return index, path

    def _find(self, base: Path, module: str) -> Path | None:
        dots = len(module) - len(module.lstrip("."))
        parts = [part for part in module[dots:].split(".") if part]
        if not all(part.isidentifier() for part in parts):
            return None
        if dots:
            root = base.parent
            for _ in range(dots - 1):
                root = root.parent
            roots: tuple[Path, ...] = (root,)
        elif not parts:
            return None
        else:
            roots = self._search_roots() if base == self.importer else _roots_of(base)
        for root in roots:
            target = root.joinpath(*parts)
            candidates = [target / "__init__.py"]
            if parts:
                candidates.insert(0, target.with_name(parts[-1] + ".py"))
            for candidate in candidates:
                consulted.note_path(candidate)
                if _is_file(candidate):
                    return candidate
        return None

    def _search_roots(self) -> tuple[Path, ...]:
        if self._roots is None:
            self._roots = _roots_of(self.importer)
        return self._roots


def _roots_of(file: Path) -> tuple[Path, ...]:
    """The importing file's folder and, up to the project root, the folders above it."""
    folders = [file.parent]
    current = file.parent
    for _ in range(_MAX_LEVELS):
        markers = [current / marker for marker in _MARKERS]
        for marker in markers:
            consulted.note_path(marker)
        if any(present(marker) for marker in markers):
            return (*folders, current / "src")
        if current.parent == current:
            break
        current = current.parent
        folders.append(current)
    return (file.parent,)


def _is_file(path: Path) -> bool:
    """``path`` is a regular file (``False`` also when its folder cannot be looked into)."""
    try:
        return path.is_file()
    except OSError:
        return False


@lru_cache(maxsize=256)
def _index(path: str, mtime_ns: int, size: int) -> FileIndex | None:
    """The index of a module file, or ``None`` if it cannot be read (not a regular file, over
    ``MAX_BYTES``, no permission, gone), decoded, or parsed (too deeply nested for Python, or an
    expression chains more operations than libcst is given: ``parsing.MAX_CHAIN``)."""
    try:
        text, _ = decode(read_bytes(path, MAX_BYTES))
        pieces = split(text)
        if pieces is None:
            return None if nesting_error(text) is not None else FileIndex.build(parse(text))
        return FileIndex.build(parse_pieces(text, pieces.cuts)) if pieces.chain <= MAX_CHAIN else None
    except (OSError, *UNDECODABLE, ValueError, cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
