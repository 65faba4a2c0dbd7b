"""What a folder walk took from each folder, kept between runs: a folder whose own ``stat`` is
the recorded one is not listed again.

A folder's listing changes only when its mtime or ctime does (a name added, removed or renamed
in it, a file replaced by a folder). A record is ``(stat, chain, has_gitignore, files, links,
folders)``: the folder's ``(st_mtime_ns, st_ctime_ns, st_ino, st_dev)`` taken before it was
listed, the ``.gitignore`` files that applied to its entries (each folder's path and content
digest, ``Discovery._extended``), whether it holds a ``.gitignore``, and the names the walk took
after ``exclude`` and ``.gitignore``: regular files, symlinks (whose target's kind is tested
again on every run) and sub-folders. A record is kept only for a folder whose times are not
within ``RACY_NS`` of the walk, so that a change in the same clock tick is never hidden.

Stored beside the results cache, signed the same way, one file per walk key (lora-lint's code,
the root, ``exclude`` and ``respect-gitignore``); read and written without importing anything a
warm run does not need.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)
if TYPE_CHECKING:
    from typing import Any, Sequence

from . import __version__
from .cache import load_signed, prepare_folder, save_signed
from .code_stamp import code_stamp
from .digests import blake2b

Record = tuple  # (stat, chain, has_gitignore, files, links, folders)


def usable(record: Any) -> bool:
    """A record of the shape this module writes (the file is signed and keyed by lora-lint's code,
    so only its containers are checked here, not every name)."""
    return (type(record) is tuple and len(record) == 6 and type(record[0]) is tuple and type(record[1]) is str
            and type(record[2]) is bool and type(record[3]) is tuple and type(record[4]) is tuple
            and type(record[5]) is tuple)


class FolderRecords:
    """The records of one walk key, loaded from ``cache_folder``; ``save`` writes them back when
    one changed."""

    def __init__(self, cache_folder: str, root: str | None, exclude: Sequence[str], respect_gitignore: bool) -> None:
        from .sources.names import ADAPTER_CONFIG, SUFFIXES

        self._key = repr([code_stamp(), root, list(exclude), respect_gitignore, SUFFIXES, ADAPTER_CONFIG])
        name = blake2b(self._key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        self._cache_folder = cache_folder
        self.path = os.path.join(cache_folder, __version__, f"walk-{name}.marshal")
        stored = load_signed(self.path)
        usable_store = type(stored) is dict and stored.get("key") == self._key and type(stored.get("folders")) is dict
        self._folders: dict[str, Any] = stored["folders"] if usable_store else {}
        self._dirty = False

    def get(self, folder: str) -> Record | None:
        record = self._folders.get(folder)
        return record if record is None or usable(record) else None

    def update(self, folder: str, record: Record, settled: bool) -> None:
        """A folder listed again: its record (kept only when ``settled``); the records of
        sub-folders it no longer leads to go."""
        old = self._folders.get(folder)
        if old is not None and usable(old):
            prefix = folder.rstrip("/") + "/"
            for gone in set(old[5]).difference(record[5]):
                self._drop_below(prefix + gone)
        if not settled:
            self.drop(folder)
        elif old != record:
            self._folders[folder] = record
            self._dirty = True

    def drop(self, folder: str) -> None:
        """Forget a folder that could not be listed or changed too recently (a record below it is
        checked on its own when the walk gets there)."""
        if self._folders.pop(folder, None) is not None:
            self._dirty = True

    def _drop_below(self, folder: str) -> None:
        prefix = folder.rstrip("/") + "/"
        for name in [f for f in self._folders if f == folder or f.startswith(prefix)]:
            del self._folders[name]
            self._dirty = True

    def save(self) -> None:
        """Write the records if one changed; a store that cannot be written is skipped silently."""
        if self._dirty and prepare_folder(self._cache_folder) \
                and save_signed(self.path, {"key": self._key, "folders": self._folders}):
            self._dirty = False
