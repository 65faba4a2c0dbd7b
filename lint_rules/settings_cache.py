"""Resolved settings kept between runs, so that a run with nothing to lint imports no rule,
no knowledge base and no libcst.

Resolving settings imports every rule (to check selectors and options) and reads the config
file, the project's declared requirements and the installed packages' metadata. The result and
its fingerprint are stored, signed like the results cache, in ``$XDG_CACHE_HOME/lora-lint/``,
under a key made of the arguments, the current folder, ``sys.path`` and lora-lint's own code;
they are reused while every file and folder listing that resolution depends on is unchanged.
A stored entry is read without importing ``lint_rules.config`` (``Stored``): a run that finds
every file cached needs only the root, the excludes and the fingerprint.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)

from . import __version__, consulted
from .cache import load_signed, save_signed, user_cache_dir
from .code_stamp import code_stamp
from .digests import blake2b

if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence  # (the config module, with the rule catalog behind it, is imported on a miss)
    from pathlib import Path

    from .config import Settings

# config files (lint_rules.config) and the files declaring requirements (lint_rules.project)
_PROJECT_FILES = ("lora-lint.toml", "pyproject.toml", "setup.cfg", "setup.py", ".git")
_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")  # where lint_rules.project stops


def _note_inputs(start: Path, config_file: Path | None, root: Path) -> None:
    """Note, conservatively, what ``settings_for`` read: the config and project files of every
    folder from ``start`` up (their absence too), the listing of each folder where requirements
    files were looked for, the config file named, and each ``sys.path`` folder's listing
    (installed peft and transformers)."""
    if config_file is not None:
        consulted.note_path(config_file)
    for folder in (start, *start.parents):
        for name in _PROJECT_FILES:
            consulted.note_path(folder / name)
    for folder in (root, *root.parents):
        consulted.note_listing(folder, pattern="requirements*.txt")
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        for name in names:
            if name.startswith("requirements") and name.endswith(".txt"):
                consulted.note_path(folder / name)
        if any(name in names for name in _ROOT_MARKERS):
            break
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            consulted.note_listing(entry, pattern="*-info")  # installed distributions


def _to_json(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in type(settings).__dataclass_fields__}


def _from_json(data: Mapping[str, Any]) -> Settings:
    from .config import Settings

    values = dict(data)
    for name in ("enabled", "peft_versions", "exclude"):
        values[name] = tuple(values[name])
    values["per_file_ignores"] = tuple((glob, tuple(codes)) for glob, codes in values["per_file_ignores"])
    values["frameworks"] = tuple(tuple(entry) for entry in values["frameworks"])
    return Settings(**values)


class Stored:
    """Resolved settings: the fields a run reads before it knows that a file must be linted, and
    ``settings()``, the ``Settings`` themselves (built from the stored fields on first use)."""

    __slots__ = ("_data", "_settings")

    def __init__(self, data: Mapping[str, Any], settings: Settings | None = None) -> None:
        self._data = data
        self._settings = settings

    @classmethod
    def of(cls, settings: Settings) -> Stored:
        return cls(_to_json(settings), settings)

    @property
    def root(self) -> str | None:
        return self._data["root"]

    @property
    def config_path(self) -> str | None:
        return self._data["config_path"]

    @property
    def exclude(self) -> tuple[str, ...]:
        return tuple(self._data["exclude"])

    @property
    def respect_gitignore(self) -> bool:
        return self._data["respect_gitignore"]

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = _from_json(self._data)
        return self._settings


def _usable(data: Any) -> bool:
    """A stored record with the fields ``Stored`` reads, of their types."""
    return (type(data) is dict and type(data.get("root")) in (str, type(None))
            and type(data.get("config_path")) in (str, type(None)) and type(data.get("exclude")) in (list, tuple)
            and all(type(p) is str for p in data["exclude"]) and type(data.get("respect_gitignore")) is bool)


def load_settings(start: str | os.PathLike[str], *, config_file: str | os.PathLike[str] | None = None,
                  isolated: bool = False, extra: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> tuple[Settings, str]:
    """``settings_for``'s settings and their fingerprint, from the store while nothing they were
    resolved from changed (``load_stored``)."""
    stored, fingerprint = load_stored(start, config_file=config_file, isolated=isolated, extra=extra)
    return stored.settings(), fingerprint


def load_stored(start: str | os.PathLike[str], *, config_file: str | os.PathLike[str] | None = None,
                isolated: bool = False, extra: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> tuple[Stored, str]:
    """``settings_for``'s settings (as ``Stored``) and their fingerprint, from the store while
    nothing they were resolved from changed. Once the rules are imported anyway (a test run, a
    long-lived process), settings are simply resolved."""
    catalog = sys.modules.get(f"{__package__}.catalog")  # (not imported here: it imports the rule module)
    if catalog is not None and catalog.loaded():
        return _resolve(start, config_file, isolated, extra, None)
    start = os.path.realpath(start)  # as Path.resolve() does
    key = repr([__version__, code_stamp(), start, str(config_file), isolated, list(extra), os.getcwd(), sys.path])
    path = os.path.join(user_cache_dir(), __version__, "settings",
                        f"{blake2b(key.encode('utf-8', 'surrogateescape'), digest_size=16).hexdigest()}.marshal")
    stored = load_signed(path)
    if type(stored) is dict and consulted.current(stored.get("inputs", [None])) \
            and _usable(stored.get("settings")) and type(stored.get("fingerprint")) is str:
        return Stored(stored["settings"]), stored["fingerprint"]
    return _resolve(start, config_file, isolated, extra, path)


def _resolve(start: str | os.PathLike[str], config_file: str | os.PathLike[str] | None, isolated: bool,
             extra: Sequence[tuple[str, Mapping[str, Any]]], path: str | None) -> tuple[Stored, str]:
    """Settings resolved now, and kept at ``path`` (unless ``None``) with what they were read from."""
    from pathlib import Path

    from .config import settings_for

    start, config_file = Path(start), None if config_file is None else Path(config_file)
    with consulted.recording() as inputs:
        settings = settings_for(start, config_file=config_file, isolated=isolated, extra=extra)
        if path is not None:
            _note_inputs(start.resolve(), config_file, Path(settings.root or start.resolve()))
    fingerprint = settings.fingerprint()
    if path is not None:
        save_signed(path, {"settings": _to_json(settings), "fingerprint": fingerprint,
                           "inputs": tuple(sorted(tuple(i) for i in inputs))})  # not kept: a value marshal cannot hold
    return Stored.of(settings), fingerprint
