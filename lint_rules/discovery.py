"""Choosing the files to lint: folders walked, ``.gitignore`` and ``exclude`` respected."""
from __future__ import annotations

import fnmatch
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from .gitignore import chain_for, ignore_file, is_ignored

SUFFIXES = (".py", ".pyi", ".ipynb")
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pytest_cache", ".ruff_cache", ".lora_lint_cache", ".svn", ".tox", ".venv", "__pycache__",
    "__pypackages__", "_build", "build", "dist", "node_modules", "site-packages", "venv",
)


def common_folder(paths: Iterable[Path]) -> Path:
    """The deepest folder holding every path (a folder, or a file's parent); the working
    directory when there are none."""
    folders = [str((p if p.is_dir() else p.parent).resolve()) for p in paths]
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


class Discovery:
    """Turns the paths given on the command line into files, relative to the project root."""

    def __init__(self, root: Path, exclude: Iterable[str], respect_gitignore: bool = True) -> None:
        self.root = root.resolve()
        self._root = str(self.root)
        self._root_prefix = self._root.rstrip("/") + "/"
        self._real: dict[str, str] = {}  # each folder and file resolved once per run
        self.respect_gitignore = respect_gitignore
        self._ignore_file = lru_cache(maxsize=None)(ignore_file)  # each .gitignore read once per run
        names, name_globs, path_globs = set(), [], []
        for pattern in (p.rstrip("/") for p in exclude):
            if "/" in pattern:
                path_globs += [fnmatch.translate(pattern), fnmatch.translate(pattern + "/*")]
            elif any(c in pattern for c in "*?["):
                name_globs.append(fnmatch.translate(pattern))
            else:
                names.add(pattern)
        self._names = names
        self._name_re = re.compile("|".join(name_globs)) if name_globs else None
        self._path_re = re.compile("|".join(path_globs)) if path_globs else None

    def _below_root(self, absolute: str) -> str | None:
        """An absolute path relative to the root (``.`` for the root), ``None`` outside it."""
        if absolute.startswith(self._root_prefix):
            return absolute[len(self._root_prefix):]
        return "." if absolute == self._root else None

    def real(self, path: Path) -> str:
        """``str(path.resolve())``, resolving each folder once (a file only if it is a symlink)."""
        text = os.path.join(os.getcwd(), path) if not path.is_absolute() else str(path)
        found = self._real.get(text)
        if found is not None:
            return found
        folder, name = os.path.split(text)
        if name in ("", ".", ".."):
            found = str(Path(text).resolve())
        else:
            real_folder = self._real.get(folder)
            if real_folder is None:
                real_folder = self._real[folder] = str(Path(folder).resolve())
            candidate = os.path.join(real_folder, name)
            found = str(Path(candidate).resolve()) if os.path.islink(candidate) else candidate
        self._real[text] = found
        return found

    def excluded(self, path: Path) -> bool:
        """An ``exclude`` pattern matches the path (relative to the root) or one of its names."""
        rel = self._below_root(str(path) if path.is_absolute() else self.real(path))
        return self._excluded_rel(rel if rel is not None else path.as_posix())

    def _excluded_rel(self, rel: str) -> bool:
        if self._path_re is not None and self._path_re.match(rel):
            return True
        parts = rel.split("/")
        if not self._names.isdisjoint(parts):
            return True
        return self._name_re is not None and any(self._name_re.match(part) for part in parts)

    def relpath(self, path: Path) -> str:
        """The path relative to the root, ``/``-separated (what ``per-file-ignores`` matches);
        absolute when it lies outside the root."""
        absolute = self.real(path)
        rel = self._below_root(absolute)
        return rel if rel is not None else absolute

    def gitignored(self, path: Path, is_dir: bool = False) -> bool:
        """A ``.gitignore`` ignores the path or a folder it lies in (below the root)."""
        if not self.respect_gitignore:
            return False
        resolved = Path(self.real(path))
        if self.root not in resolved.parents:
            return is_ignored(resolved, chain_for(resolved.parent, self.root, self._ignore_file), is_dir)
        chain = chain_for(self.root, self.root, self._ignore_file)
        for folder in reversed(resolved.parents[:resolved.parents.index(self.root)]):
            if is_ignored(folder, chain, True):
                return True
            extra = self._ignore_file(folder)
            chain = chain + [extra] if extra is not None else chain
        return is_ignored(resolved, chain, is_dir)

    def left_out(self, path: Path, is_dir: bool = False) -> bool:
        """``exclude`` or a ``.gitignore`` leaves the path out."""
        return self.excluded(path) or self.gitignored(path, is_dir)

    def files(self, paths: Iterable[Path], *, force_exclude: bool = False) -> Iterator[Path]:
        """Files to lint, each once, in a stable order. Files named explicitly are always linted
        unless ``force_exclude`` (then ``exclude`` and ``.gitignore`` apply to them too)."""
        seen: set[str] = set()
        for path in paths:
            is_dir = path.is_dir()
            if force_exclude and self.left_out(path, is_dir):
                continue
            found = ([Path(p) for p in sorted(self._walk(path.resolve()), key=lambda p: p.split(os.sep))]
                     if is_dir else [path])  # sorted as Path sorts, by parts
            for file in found:
                key = self.real(file)
                if key not in seen:
                    seen.add(key)
                    yield file

    def _walk(self, top: Path) -> Iterator[str]:
        chain = chain_for(top, self.root, self._ignore_file) if self.respect_gitignore else []
        stack = [(top, chain)]
        while stack:
            folder, chain = stack.pop()
            if self.respect_gitignore and folder != top:
                extra = self._ignore_file(folder)
                chain = chain + [extra] if extra is not None else chain
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.name.endswith(SUFFIXES):
                    continue
                rel = self._below_root(entry.path)  # below a resolved folder: no need to resolve
                if self._excluded_rel(rel if rel is not None else entry.path):
                    continue
                if chain and is_ignored(Path(entry.path), chain, is_dir):
                    continue
                if is_dir:
                    stack.append((Path(entry.path), chain))
                elif entry.is_file():
                    yield entry.path
