"""A stamp of lora-lint's own code and data, for the caches' keys."""
from __future__ import annotations

import os

from .digests import blake2b


_stamp: list[str] = []  # computed once per process


def code_stamp() -> str:
    """Changes when lora-lint's code or data changes (sizes and mtimes), so that a cache filled by
    other rules is never reused, even without a version bump."""
    if not _stamp:
        _stamp.append(_compute())
    return _stamp[0]


def _compute() -> str:
    package = os.path.dirname(os.path.realpath(__file__))
    found: list[tuple[list[str], os.stat_result]] = []
    folders = [(package, [])]
    while folders:
        folder, rel = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, [*rel, entry.name]))
                elif entry.name.endswith((".py", ".json")) and entry.name not in (".py", ".json"):
                    found.append(([*rel, entry.name], entry.stat()))
    digest = blake2b(digest_size=8)
    for parts, info in sorted(found, key=lambda item: item[0]):  # in path order, as pathlib sorts
        digest.update(f"{'/'.join(parts)}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()
