"""The settings each open file is linted with, kept while their config files stay the same.

A file's settings are ``lora-lint``'s for that file: the nearest ``lora-lint.toml`` or
``pyproject.toml`` with ``[tool.lora-lint]`` at or above its folder. They are resolved once per
folder and reused while every candidate config file from that folder up is unchanged (same
presence, size and modification time), so an edited, added or removed ``pyproject.toml`` takes
effect at the next lint even where the client does not report file changes; ``forget()`` drops
everything (the client reported one).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import Settings, settings_for
from ..discovery import Discovery
from ..engine import Linter
from ..errors import ConfigError

CONFIG_NAMES = ("lora-lint.toml", "pyproject.toml")


@dataclass
class Project:
    """One folder's resolved settings, the linter built from them, and the files they came from."""

    settings: Settings
    linter: Linter
    discovery: Discovery
    stamp: tuple

    def relpath(self, path: Path) -> str:
        """The path as ``per-file-ignores`` matches it (relative to the project root)."""
        return self.discovery.relpath(path)

    def excluded(self, path: Path) -> bool:
        """``exclude``/``extend-exclude`` name the file (``.gitignore`` does not count: a file
        open in the editor is one its user works on)."""
        return self.discovery.excluded(path)


def _stamp(folder: Path) -> tuple:
    """Presence, size and mtime of every config file that could apply to ``folder``."""
    marks = []
    for parent in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            try:
                info = os.stat(parent / name)
            except OSError:
                continue
            marks.append((str(parent / name), info.st_size, info.st_mtime_ns))
    return tuple(marks)


class Projects:
    """Settings per folder; ``report`` is told (once per message) about a config that cannot be used."""

    def __init__(self, report: Callable[[str], None] = lambda message: None) -> None:
        self._folders: dict[Path, Project] = {}
        self._report = report
        self._reported: set[str] = set()

    def forget(self) -> None:
        self._folders.clear()

    def for_folder(self, folder: Path) -> Project:
        folder = folder.resolve()
        stamp = _stamp(folder)
        known = self._folders.get(folder)
        if known is not None and known.stamp == stamp:
            return known
        problem = None
        try:
            settings = settings_for(folder)
        except ConfigError as exc:
            problem = f"lora-lint: {exc}; linting with the default settings"
            settings = settings_for(folder, isolated=True)
        if problem is not None and problem not in self._reported:
            self._reported.add(problem)
            self._report(problem)
        root = Path(settings.root or folder)
        project = Project(settings, Linter(settings), Discovery(root, settings.exclude, settings.respect_gitignore),
                          stamp)
        self._folders[folder] = project
        return project
