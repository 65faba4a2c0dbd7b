"""The version of an installed distribution (peft, transformers), as ``importlib.metadata.version``
gives it, read from its ``*.dist-info``/``*.egg-info`` folder on ``sys.path``: the package is never
imported, and neither is ``importlib.metadata`` (with the ``email`` parser it reads metadata
with, tens of milliseconds of a one-file run) unless the layout is one only it reads (a zip or
an ``.egg`` on the path, a finder of distributions besides the path's, metadata without a
``Version`` header)."""
from __future__ import annotations

import os
import re
import sys
from importlib.machinery import PathFinder

_SEPARATORS = re.compile(r"[-_.]+")
_HEADER_LIMIT = 1 << 16  # the headers come first; a Version header past this is left to importlib.metadata


class _Unusual(Exception):
    """A layout whose reading is left to ``importlib.metadata``."""


def _normalized(name: str) -> str:
    """The name as ``importlib.metadata`` compares names of metadata folders."""
    return _SEPARATORS.sub("-", name).lower().replace("-", "_")


def _header_version(folder: str) -> str:
    """The ``Version`` header of the folder's ``METADATA`` (else ``PKG-INFO``), as the email
    parser reads it: leading blanks dropped, trailing ones kept."""
    for member in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, member), "rb") as handle:
                head = handle.read(_HEADER_LIMIT)
        except OSError:
            continue
        try:
            lines = head.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            break
        for i, line in enumerate(lines):
            if not line:
                break  # the end of the headers
            key, colon, value = line.partition(":")
            if colon and key.lower() == "version":
                if i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                    break  # folded onto the next line
                return value.lstrip(" \t")
        break
    raise _Unusual(folder)


def _search(wanted: str) -> str | None:
    if any(hasattr(finder, "find_distributions") and finder is not PathFinder for finder in sys.meta_path):
        raise _Unusual("a finder of distributions")
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):
                raise _Unusual(root) from None  # a zip: importlib.metadata reads into it
            continue
        if root.lower().endswith(".egg"):
            raise _Unusual(root)
        for child in children:  # importlib.metadata takes the first in listing order
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")) and \
                    _normalized(low.rpartition(".")[0].partition("-")[0]) == wanted:
                folder = os.path.join(root, child)
                if not os.path.isdir(folder):
                    raise _Unusual(folder)
                return _header_version(folder)
            if low.endswith(".egg"):
                raise _Unusual(child)
    return None


_known: dict[str, tuple[tuple, str | None]] = {}


def version(name: str) -> str | None:
    """The installed distribution's version; ``None`` when it is not installed. The answer is
    kept while ``sys.path`` and its folders are unchanged: installing, upgrading or removing a
    distribution adds or removes a metadata folder, which changes its folder's modification
    time (the analysis asks several times per parsed file; a search lists every folder)."""
    state = _path_state()
    kept = _known.get(name)
    if kept is not None and kept[0] == state:
        return kept[1]
    found = _read(name)
    _known[name] = (state, found)
    return found


def _path_state() -> tuple:
    """``sys.path``, its finders, and the modification time of each folder on it (-1: none)."""
    times = []
    for entry in sys.path:
        try:
            times.append(os.stat(entry or os.getcwd()).st_mtime_ns)
        except OSError:
            times.append(-1)
    return tuple(sys.path), os.getcwd(), tuple(map(id, sys.meta_path)), tuple(times)


def _read(name: str) -> str | None:
    try:
        return _search(_normalized(name))
    except _Unusual:
        from importlib import metadata

        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None
