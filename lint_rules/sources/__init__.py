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
Adding a format is adding a module here and naming it in ``SOURCES``.
"""
from __future__ import annotations

from types import ModuleType

from . import adapter_config, notebook, python, trainer_yaml
from .base import FixResult

SOURCES: tuple[ModuleType, ...] = (notebook, adapter_config, trainer_yaml)  # python: every other name

__all__ = ["SOURCES", "FixResult", "for_name", "suffixes", "walked"]


def for_name(filename: str) -> ModuleType:
    """The source that reads a file of this name."""
    lowered = filename.lower()
    return next((source for source in SOURCES if lowered.endswith(source.SUFFIXES)), python)


def walked(name: str) -> bool:
    """Whether a folder walk picks a file of this name (explicitly named files are always read)."""
    return python.walked(name) or any(source.walked(name) for source in SOURCES)


def suffixes() -> tuple[str, ...]:
    """Every suffix a source reads (pre-commit's file types, ``pytest --lora-check``)."""
    return (*python.SUFFIXES, *(s for source in SOURCES for s in source.SUFFIXES))
