"""The results cache: per file, the findings for a content hash under one settings fingerprint.

Stored under ``<root>/.lora_lint_cache/<version>/<fingerprint>.json`` (one file read at the start
of a run and written once at its end); the folder holds a ``.gitignore`` of ``*``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import __version__

CACHE_DIR = ".lora_lint_cache"


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Cache:
    def __init__(self, root: Path, fingerprint: str) -> None:
        self.folder = root / CACHE_DIR
        self.path = self.folder / __version__ / f"{fingerprint}.json"
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._entries = loaded
        except (OSError, ValueError):
            pass

    def get(self, key: str, digest: str) -> list[dict[str, Any]] | None:
        entry = self._entries.get(key)
        if entry and entry[0] == digest:
            return entry[1]
        return None

    def put(self, key: str, digest: str, violations: list[dict[str, Any]]) -> None:
        self._entries[key] = [digest, violations]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed; a cache that cannot be written is skipped silently."""
        from .runner import write_atomic  # runner imports this module

        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Automatically created by lora-lint.\n*\n", encoding="utf-8")
            write_atomic(self.path, json.dumps(self._entries, separators=(",", ":")))
        except OSError:
            return
        self._dirty = False
