"""Acting as a user who may not read a path, also when the tests run as root (whom mode 000 does
not stop): ``os.stat``, ``os.open``, ``os.scandir`` and ``os.listdir`` fail with ``EACCES``."""
from __future__ import annotations

import errno
import os
from pathlib import Path

from lint_rules.analysis import model


def deny(monkeypatch, path: Path) -> None:
    """Act as a user who may not read ``path``: a folder cannot be listed nor anything in it
    reached; a file cannot be opened."""
    locked = str(path)
    real_stat, real_open, real_scandir, real_listdir = os.stat, os.open, os.scandir, os.listdir

    def inside(target) -> bool:
        return isinstance(target, (str, os.PathLike)) and os.path.abspath(target).startswith(locked + os.sep)

    def refuse(target):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(target))

    def stat(target, *args, **kwargs):
        return refuse(target) if inside(target) else real_stat(target, *args, **kwargs)

    def open_(target, *args, **kwargs):
        return refuse(target) if inside(target) or os.path.abspath(target) == locked else real_open(target, *args, **kwargs)

    def scandir(target="."):
        return refuse(target) if inside(target) or os.path.abspath(target) == locked else real_scandir(target)

    def listdir(target="."):
        return refuse(target) if inside(target) or os.path.abspath(target) == locked else real_listdir(target)

    monkeypatch.setattr(model, "_resolved", {})  # a chmod leaves a model config's recorded state as it was
    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
