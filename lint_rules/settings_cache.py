"""Resolved settings kept between runs, so that a run with nothing to lint imports no rule,
no knowledge base and no libcst.

Resolving settings imports every rule (to check selectors and options) and reads the config
file, the project's declared requirements and the installed packages' metadata. The result and
its fingerprint are stored, signed like the results cache, in ``$XDG_CACHE_HOME/lora-lint/``,
under a key made of the arguments, the current folder, ``sys.path`` and lora-lint's own code;
they are reused while every file and folder listing that resolution depends on is unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import __version__, consulted
from .cache import load_signed, save_signed, user_cache_dir
from .config import Settings, code_stamp, settings_for

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
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


def _from_json(data: Mapping[str, Any]) -> Settings:
    values = dict(data)
    for name in ("enabled", "peft_versions", "exclude"):
        values[name] = tuple(values[name])
    values["per_file_ignores"] = tuple((glob, tuple(codes)) for glob, codes in values["per_file_ignores"])
    values["frameworks"] = tuple(tuple(entry) for entry in values["frameworks"])
    return Settings(**values)


def load_settings(start: Path, *, config_file: Path | None = None, isolated: bool = False,
                  extra: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> tuple[Settings, str]:
    """``settings_for``'s settings and their fingerprint, from the store while nothing they were
    resolved from changed. Once the rules are imported anyway (a test run, a long-lived
    process), settings are simply resolved."""
    catalog = sys.modules.get(f"{__package__}.catalog")  # (not imported here: it imports the rule module)
    if catalog is not None and catalog.loaded():
        settings = settings_for(start, config_file=config_file, isolated=isolated, extra=extra)
        return settings, settings.fingerprint()
    start = start.resolve()
    try:
        key = json.dumps([__version__, code_stamp(), str(start), str(config_file), isolated, list(extra),
                          os.getcwd(), sys.path], sort_keys=True)
    except (TypeError, ValueError):  # a value JSON cannot hold: nothing to key on
        settings = settings_for(start, config_file=config_file, isolated=isolated, extra=extra)
        return settings, settings.fingerprint()
    path = user_cache_dir() / __version__ / "settings" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
    stored = load_signed(path)
    if isinstance(stored, dict) and consulted.current(stored.get("inputs", [None])):
        try:
            return _from_json(stored["settings"]), str(stored["fingerprint"])
        except (KeyError, TypeError, ValueError):
            pass
    with consulted.recording() as inputs:
        settings = settings_for(start, config_file=config_file, isolated=isolated, extra=extra)
        _note_inputs(start, config_file, Path(settings.root or start))
    fingerprint = settings.fingerprint()
    try:
        save_signed(path, {"settings": _to_json(settings), "fingerprint": fingerprint,
                           "inputs": sorted(list(i) for i in inputs)})
    except (TypeError, ValueError):  # e.g. a TOML date among rule options: not stored
        pass
    return settings, fingerprint
