"""The kinds of input lora-lint reads, one module each, and which one a file is.

Every source turns a file into what the rules check, with positions in the file itself:

- ``python``: ``.py``/``.pyi`` (and a file of any other name) is checked as it is;
- ``notebook``: a notebook's code cells are joined into one program, reported per cell;
- ``adapter_config``: a saved adapter's ``adapter_config.json``, and ``trainer_yaml``: an axolotl
  or LLaMA-Factory YAML file, each become one ``LoraConfig(...)`` call (``config_program``) whose
  keywords point back at the keys written in the file.

A source module has ``KIND``, ``SUFFIXES`` (the names it claims), ``walked(name)`` (whether a
folder walk picks a file of that name), ``worth_linting(text, prefilter)`` (a test on the text
before anything is parsed), ``lint(checker, text, filename, relpath)`` and
``fix(checker, text, filename, relpath, unsafe=...)``; ``checker`` is the engine's ``Linter``;
``noqa_rows(text)``: the rows where a ``# noqa`` comment can be appended (``add_noqa``), or
``noqa_rows = None`` for a format without comments (JSON, a notebook's JSON).
Adding a format is adding a module here and naming its suffixes in ``names.SUFFIXES``. Which
source a name is comes from ``names`` alone; a source module is imported when it is first used.
"""
from __future__ import annotations

import importlib
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

from . import names

__all__ = ["FixResult", "for_name", "walked"]


def for_name(filename: str) -> ModuleType:
    """The source that reads a file of this name."""
    return importlib.import_module(f"{__name__}.{names.kind_of(filename)}")


def walked(name: str) -> bool:
    """Whether a folder walk picks a file of this name (explicitly named files are always read)."""
    return names.walked_by_some_kind(name)


def __getattr__(name: str) -> Any:
    """``sources.python``, ``sources.notebook``, ...: each source module on first use; ``FixResult``."""
    if name in names.SUFFIXES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "FixResult":
        from .base import FixResult

        return FixResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
