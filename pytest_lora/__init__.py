"""pytest-lora: fixtures and assertions for LoRA configurations, and ``--lora-check``.

Names are loaded lazily so that importing the plugin costs nothing: torch, peft
and transformers are imported only when an assertion or fixture is used.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_lora' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
