"""What a verdict read besides the linted file and the settings: files, folder listings and
environment variables, each with its state when read.

``resolve_model`` (a local model folder's ``config.json``, the Hugging Face cache) notes what it
reads here; the caches keep the notes of each file and trust an entry only while ``current``
says that every input is still in the state it was read in. Standard library only, and only
what a warm run's ``current`` needs at import time.
"""
from __future__ import annotations

import os
import stat
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)
if TYPE_CHECKING:
    from typing import Iterable

from .digests import blake2b

Input = tuple[str, str, str]  # (kind, what, state): kind is "path", "listing" or "env"

MAX_HASHED = 1 << 20  # larger files are compared by their stat, not their content
_recorders: list[set[Input]] = []


def path_state(path: str) -> str:
    """``absent``, ``dir``, ``file:<mtime>:<content digest>`` or another kind of file.
    A relative path is taken from the current folder, so a new folder makes a new state."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
        return "absent"
    except OSError as exc:
        return f"error:{exc.errno}"
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    if not stat.S_ISREG(info.st_mode):
        return f"special:{stat.S_IFMT(info.st_mode)}"
    if info.st_size > MAX_HASHED:
        return f"large:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}:{info.st_ctime_ns}"
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_HASHED + 1)
    except OSError as exc:
        return f"error:{exc.errno}"
    return f"file:{info.st_mtime_ns}:{blake2b(data, digest_size=16).hexdigest()}"


def listing_state(path: str) -> str:
    """The sorted names in a folder (hashed), ``absent`` when it is not a readable folder;
    ``folder<NUL>pattern`` lists only the names that match the pattern."""
    folder, _, pattern = path.partition("\0")
    try:
        names = sorted(os.listdir(folder))
    except (OSError, ValueError):
        return "absent"
    if pattern:
        match = _matcher(pattern)
        names = [name for name in names if match(name)]
    return blake2b("\0".join(names).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _matcher(pattern: str):
    """``fnmatchcase``'s test of a name against ``pattern``; a pattern with one ``*`` and no other
    wildcard (``*-info``, ``requirements*.txt``) is tested without compiling a regex."""
    head, star, tail = pattern.partition("*")
    if star and not any(c in head + tail for c in "*?[") and "\\" not in pattern:
        return lambda name: len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail)
    import fnmatch
    import re

    return re.compile(fnmatch.translate(pattern)).match


def env_state(name: str) -> str:
    value = os.environ.get(name)
    return "unset" if value is None else f"={value}"


_STATES = {"path": path_state, "listing": listing_state, "env": env_state}


def _note(kind: str, what: str) -> None:
    if _recorders:
        entry = (kind, what, _STATES[kind](what))
        for found in _recorders:
            found.add(entry)


def note_path(path: str | os.PathLike[str]) -> None:
    """A file or folder about to be read or tested (while something records)."""
    _note("path", os.fspath(path))


def note_listing(path: str | os.PathLike[str], then: str | None = None, *, pattern: str = "") -> None:
    """A folder about to be listed (only the names matching ``pattern``, if given); with
    ``then``, also that name inside each of its entries (``snapshots/*/config.json``)."""
    if not _recorders:
        return
    folder = os.fspath(path)
    _note("listing", f"{folder}\0{pattern}" if pattern else folder)
    if then is not None:
        try:
            names = os.listdir(folder)
        except (OSError, ValueError):
            return
        for name in names:
            note_path(os.path.join(folder, name, then))


def note_env(name: str) -> None:
    """An environment variable about to be read."""
    _note("env", name)


def replay(inputs: Iterable[Input]) -> None:
    """Note again what an earlier, memoised computation recorded."""
    for found in _recorders:
        found.update(inputs)


class recording:
    """``with recording() as found``: collect in ``found`` every input noted inside the block (also
    by nested recordings)."""

    def __init__(self) -> None:
        self.found: set[Input] = set()

    def __enter__(self) -> set[Input]:
        _recorders.append(self.found)
        return self.found

    def __exit__(self, *exc: object) -> None:
        del _recorders[next(i for i, r in enumerate(_recorders) if r is self.found)]


def current(inputs: Iterable[Input]) -> bool:
    """Whether every input is still in its recorded state (``False`` for a malformed one)."""
    for entry in inputs:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3 and all(isinstance(x, str) for x in entry)):
            return False
        kind, what, state = entry
        if kind not in _STATES or _STATES[kind](what) != state:
            return False
    return True
