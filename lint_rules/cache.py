"""The results cache: per file, its findings under one settings fingerprint, valid while the file
and everything its verdict read (``lint_rules.consulted``) are unchanged.

Stored under ``<root>/.lora_lint_cache/<version>/<fingerprint>.marshal`` (read at the start of a
run, written at its end only when a verdict changed; the folder holds a ``.gitignore`` of ``*``).
An entry is ``(stat, digest, findings, inputs)``, all tuples: a file whose ``stat`` (size,
mtime, inode, ctime) is the recorded one is not read at all; otherwise its content digest
decides. ``stat`` is recorded only for a file last changed more than ``RACY_NS`` before it was
read, so that a change in the same clock tick is never hidden.

Cache files are ``marshal`` data signed with a key kept outside the project
(``$XDG_CACHE_HOME/lora-lint/``, mode 0600; keyed BLAKE2b): a planted, edited or corrupt cache
file is ignored, never unmarshalled. Without a usable key nothing is cached. This module imports
nothing a warm run would not need (no hashlib, hmac, json or pathlib).
"""
from __future__ import annotations

import marshal
import os
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)
if TYPE_CHECKING:
    from typing import Any

from . import __version__, consulted
from .digests import blake2b, compare_digest
from .reading import FILE_LIMIT, read_bytes

CACHE_DIR = ".lora_lint_cache"
RACY_NS = 2_000_000_000  # coarser than any file system's timestamp granularity (FAT: 2 s)
_KEY_SIZE = 32
_MARSHAL_VERSION = 4

Stat = list[int]


def content_hash(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


def user_cache_dir() -> str:
    """``$XDG_CACHE_HOME/lora-lint``, else ``~/.cache/lora-lint``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lora-lint")


_keys: dict[str, bytes | None] = {}


def signing_key() -> bytes | None:
    """This user's key for cache signatures (created on first use), ``None`` if it cannot be kept."""
    path = os.path.join(user_cache_dir(), "cache-key")
    if path not in _keys:
        _keys[path] = _read_or_create_key(path)
    return _keys[path]


def _read_or_create_key(path: str) -> bytes | None:
    for _ in range(2):
        try:
            with open(path, "rb") as handle:
                key = handle.read(_KEY_SIZE + 1)
            return key if len(key) == _KEY_SIZE else None
        except FileNotFoundError:
            pass
        except OSError:
            return None
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            handle_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # another run created it meanwhile: read that one
        except OSError:
            return None
        with os.fdopen(handle_fd, "wb") as out:
            out.write(os.urandom(_KEY_SIZE))
    return None


def _signature(key: bytes, body: bytes) -> str:
    return blake2b(body, key=key, digest_size=32).hexdigest()


def load_signed(path: str | os.PathLike[str]) -> Any:
    """The value stored by ``save_signed``; ``None`` when missing, unsigned, forged or corrupt.
    The body is unmarshalled only once its signature is ours."""
    key = signing_key()
    if key is None:
        return None
    try:
        data = read_bytes(path, FILE_LIMIT)  # a FIFO or /dev/zero planted as the cache is not read
    except OSError:
        return None
    mac, _, body = data.partition(b"\n")
    if not compare_digest(mac, _signature(key, body).encode()):
        return None
    try:
        return marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None


def save_signed(path: str | os.PathLike[str], value: Any) -> bool:
    """Write ``value`` (plain data: ``marshal`` must take it) signed, atomically; ``False`` when it
    cannot be written."""
    from pathlib import Path

    from .runner import write_atomic  # runner imports this module

    key = signing_key()
    if key is None:
        return False
    try:
        body = marshal.dumps(value, _MARSHAL_VERSION)
    except ValueError:  # a value marshal cannot hold
        return False
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _signature(key, body).encode() + b"\n" + body)
    except (OSError, ValueError):
        return False
    return True


def sign_value(value: Any) -> str | None:
    """A signature of a JSON value kept by someone else (pytest's cache); ``None`` without a key."""
    import json

    key = signing_key()
    if key is None:
        return None
    return _signature(key, json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def signed_by_us(value: Any, signature: Any) -> bool:
    """Whether ``signature`` is ``sign_value(value)``."""
    expected = sign_value(value)
    return expected is not None and isinstance(signature, str) and compare_digest(signature, expected)


def stat_key(info: os.stat_result) -> Stat:
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def settled(info: os.stat_result | None, read_at_ns: int) -> Stat | None:
    """The stat to record for a file read at ``read_at_ns``; ``None`` if it changed too recently
    for its timestamps to tell a later change apart."""
    if info is None or max(info.st_mtime_ns, info.st_ctime_ns) > read_at_ns - RACY_NS:
        return None
    return stat_key(info)


def _entry_ok(entry: Any) -> bool:
    """The shape of ``(stat, digest, findings, inputs)`` (findings are checked when read)."""
    if not (type(entry) is tuple and len(entry) == 4 and type(entry[1]) is str and type(entry[2]) is tuple
            and type(entry[3]) is tuple and all(type(v) is dict for v in entry[2])):
        return False
    stat = entry[0]
    return stat is None or (type(stat) is tuple and len(stat) == 4 and all(type(n) is int for n in stat))


class Cache:
    def __init__(self, root: str | os.PathLike[str], fingerprint: str) -> None:
        self.folder = os.path.join(root, CACHE_DIR)
        self.path = os.path.join(self.folder, __version__, f"{fingerprint}.marshal")
        loaded = load_signed(self.path)
        self._entries: dict[str, Any] = loaded if type(loaded) is dict else {}
        self._dirty = False

    def _valid(self, key: str) -> tuple[Any, ...] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not _entry_ok(entry):
            del self._entries[key]
            self._dirty = True
            return None
        return entry

    def not_clean(self, paths: list[str]) -> list[str]:
        """The files that did not pass with no finding, or whose stat is not the recorded one, or
        whose inputs changed: a warm run's one test per file, a ``stat`` (a malformed entry is no
        match here, and is dropped when the file is looked up by content)."""
        found, get, stat, abspath = [], self._entries.get, os.stat, os.path.abspath
        for path in paths:
            entry = get(path if path.startswith("/") else abspath(path))  # (walked paths are absolute)
            try:
                if type(entry) is tuple and len(entry) == 4 and entry[2] == ():
                    info = stat(path)
                    if entry[0] == (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns) \
                            and (entry[3] == () or consulted.current(entry[3])):
                        continue
            except OSError:  # reading it tells why
                pass
            found.append(path)
        return found

    def lookup(self, key: str, info: os.stat_result) -> list[dict[str, Any]] | None:
        """The findings of a file whose stat is the recorded one and whose inputs are unchanged."""
        entry = self._valid(key)
        if entry is None or entry[0] != tuple(stat_key(info)) or not consulted.current(entry[3]):
            return None
        return list(entry[2])

    def get(self, key: str, digest: str, info: Stat | None = None) -> list[dict[str, Any]] | None:
        """The findings of a file with this content, if its inputs are unchanged (a settled
        ``info`` is recorded so that the next run needs only ``stat``)."""
        entry = self._valid(key)
        if entry is None or entry[1] != digest or not consulted.current(entry[3]):
            return None
        stat = None if info is None else tuple(info)
        if stat is not None and entry[0] != stat:
            self._entries[key] = (stat, *entry[1:])
            self._dirty = True
        return list(entry[2])

    def put(self, key: str, digest: str, violations: list[dict[str, Any]],
            inputs: Any = (), info: Stat | None = None) -> None:
        entry = (None if info is None else tuple(info), digest, tuple(violations),
                 tuple(sorted(tuple(i) for i in inputs)))
        if self._entries.get(key) != entry:
            self._entries[key] = entry
            self._dirty = True

    def discard(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the cache if a verdict changed; a cache that cannot be written is skipped silently."""
        if self._dirty and prepare_folder(self.folder) and save_signed(self.path, self._entries):
            self._dirty = False


def prepare_folder(folder: str) -> bool:
    """Create the cache folder, with a ``.gitignore`` of ``*``; ``False`` when it cannot be."""
    ignore = os.path.join(folder, ".gitignore")
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(ignore):
            with open(ignore, "w", encoding="utf-8") as out:
                out.write("# Automatically created by lora-lint.\n*\n")
    except OSError:
        return False
    return True
