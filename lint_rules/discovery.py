"""Choosing the files to lint: folders walked, ``.gitignore`` and ``exclude`` respected."""
from __future__ import annotations

import fnmatch
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from .gitignore import IgnoreFile, chain_for, ignore_file, is_ignored

SUFFIXES = (".py", ".pyi", ".ipynb", ".json", ".yaml", ".yml")  # what lora-lint reads (``sources``)
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
        self.problems: list[str] = []  # what could not be read: unreadable folders, .gitignore files
        self._ignore_file = lru_cache(maxsize=None)(self._load_ignore)  # each .gitignore read once per run
        exclude = list(exclude)
        self._any = _ExcludePatterns(p for p in exclude if not p.endswith("/"))
        self._folders = _ExcludePatterns(p.rstrip("/") for p in exclude if p.endswith("/"))  # folders only

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
            found = _resolved(text)
        else:
            real_folder = self._real.get(folder)
            if real_folder is None:
                real_folder = self._real[folder] = _resolved(folder)
            candidate = os.path.join(real_folder, name)
            found = _resolved(candidate) if os.path.islink(candidate) else candidate
        self._real[text] = found
        return found

    def excluded(self, path: Path, is_dir: bool = False) -> bool:
        """An ``exclude`` pattern matches the path (relative to the root) or one of its names; a
        pattern ending in ``/`` matches folders only."""
        rel = self._below_root(str(path) if path.is_absolute() else self.real(path))
        return self._excluded_rel(rel if rel is not None else path.as_posix(), is_dir)

    def _excluded_rel(self, rel: str, is_dir: bool) -> bool:
        if self._any.match(rel):
            return True
        folders = rel if is_dir else rel.rpartition("/")[0]
        return bool(folders) and self._folders.match(folders)

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
        return self.excluded(path, is_dir) or self.gitignored(path, is_dir)

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
        from .sources import walked  # (sources read the settings module, which reads this one)

        chain = chain_for(top, self.root, self._ignore_file) if self.respect_gitignore else []
        stack = [(top, chain)]
        while stack:
            folder, chain = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:  # removed since the run started
                continue
            except OSError as exc:
                self.problems.append(f"{_shown(folder)}: cannot read the folder: {exc.strerror or exc}")
                continue
            if self.respect_gitignore and folder != top:
                extra = self._ignore_file(folder)
                chain = chain + [extra] if extra is not None else chain
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not walked(entry.name):
                    continue
                rel = self._below_root(entry.path)  # below a resolved folder: no need to resolve
                if self._excluded_rel(rel if rel is not None else entry.path, is_dir):
                    continue
                if chain and is_ignored(Path(entry.path), chain, is_dir):
                    continue
                if is_dir:
                    stack.append((Path(entry.path), chain))
                    continue
                try:
                    is_file = entry.is_file()
                except OSError:  # a symlink loop: reading it reports why
                    is_file = True
                if is_file:
                    if not entry.is_symlink():  # below a resolved folder, reached through no link: real
                        self._real[entry.path] = entry.path
                    yield entry.path

    def _load_ignore(self, folder: Path) -> IgnoreFile | None:
        try:
            return ignore_file(folder)
        except OSError as exc:
            self.problems.append(f"{_shown(folder / '.gitignore')}: cannot read: {exc}; its patterns are not applied")
            return None


class _ExcludePatterns:
    """``exclude`` patterns: a bare name matches any path part, a glob any part's name, and a
    pattern with a ``/`` the path relative to the root (and everything below it)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.names: set[str] = set()
        name_globs: list[str] = []
        path_globs: list[str] = []
        for pattern in (p.rstrip("/") for p in patterns):
            if "/" in pattern:
                path_globs += [fnmatch.translate(pattern), fnmatch.translate(pattern + "/*")]
            elif any(c in pattern for c in "*?["):
                name_globs.append(fnmatch.translate(pattern))
            else:
                self.names.add(pattern)
        self.name_re = re.compile("|".join(name_globs)) if name_globs else None
        self.path_re = re.compile("|".join(path_globs)) if path_globs else None

    def match(self, rel: str) -> bool:
        if self.path_re is not None and self.path_re.match(rel):
            return True
        parts = rel.split("/")
        if not self.names.isdisjoint(parts):
            return True
        return self.name_re is not None and any(self.name_re.match(part) for part in parts)


def _resolved(path: str) -> str:
    """``str(Path(path).resolve())``; a symlink loop stays as it is (reading it says why)."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
