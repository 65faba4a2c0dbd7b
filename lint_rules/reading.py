"""Reading input files: regular files only, up to a size limit.

Every file lora-lint reads from the user's tree (sources, notebooks, ``.gitignore``, config and
project metadata, a model's ``config.json``) goes through ``read_bytes``, so that a FIFO never
blocks the run and ``/dev/zero`` or a huge file never exhausts memory.
"""
from __future__ import annotations

import os
import stat
import sys
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

MB = 1 << 20
SOURCE_LIMIT = 2 * MB  # a .py/.pyi file that might use peft: its libcst tree alone is ~50 bytes per byte
FILE_LIMIT = 256 * MB  # any source or notebook read at all (one without peft is never parsed)
CONFIG_LIMIT = 16 * MB  # .gitignore, TOML, setup.cfg, requirements files, a model's config.json

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRead(OSError):
    """A file left unread on purpose: not a regular file, or over its size limit."""


def size_text(size: int) -> str:
    if size % MB == 0:
        return f"{size // MB} MB"
    return f"{size / MB:.1f} MB" if size >= MB // 10 else f"{size} bytes"


def read_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Raises ``OSError``: ``NotRead`` for
    anything else (opening never blocks, even on a FIFO)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
            raise NotRead(f"not a regular file ({kind})")
        if info.st_size > limit:
            raise NotRead(f"{size_text(info.st_size)}, over the {size_text(limit)} limit")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotRead(f"over the {size_text(limit)} limit")
    return data


def read_text(path: str | os.PathLike[str], limit: int = CONFIG_LIMIT, errors: str = "strict") -> str:
    """A UTF-8 regular file's text (``read_bytes``); ``UnicodeDecodeError`` for other bytes."""
    return read_bytes(path, limit).decode("utf-8", errors)


UNDECODABLE = (SyntaxError, LookupError, UnicodeDecodeError)


def decode(data: bytes, suffix: str = ".py") -> tuple[str, str]:
    """The text and its encoding: a source decoded as Python does (PEP 263 coding cookie, BOM), a
    notebook as UTF-8, a JSON or YAML config as UTF-8 with or without a BOM (kept when written
    back). Raises one of ``UNDECODABLE`` for bytes that cannot be read so."""
    suffix = suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    elif suffix == ".ipynb":
        encoding = "utf-8"
    else:
        import io
        import tokenize  # (a warm run reads no source)

        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    return data.decode(encoding), encoding


def present(path: Path) -> bool:
    """Something is at ``path`` (reading it tells whether it is a readable file); ``False`` also
    when its folder cannot be looked into."""
    try:
        return path.exists()
    except OSError:
        return False


def toml() -> Any:
    """The TOML parser (``tomllib``; ``tomli`` before Python 3.11), imported where a TOML text is
    read: a run from a folder without a config file or pyproject parses none."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib
