"""``.gitignore`` matching (the subset of git's rules that matters for choosing files)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in glob[i + 1:]:
            end = glob.index("]", i + 1)
            body = glob[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


class IgnoreFile:
    """The patterns of one ``.gitignore``, relative to its folder."""

    def __init__(self, base: Path, lines: list[str]) -> None:
        self.base = base
        self.patterns: list[tuple[re.Pattern[str], bool, bool]] = []  # regex, negated, dirs only
        for raw in lines:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            line = line.rstrip(" ") if not line.endswith("\\ ") else line
            negated = line.startswith("!")
            line = line[1:] if negated else line
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            body = _translate(line.lstrip("/"))
            regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
            self.patterns.append((regex, negated, dir_only))

    def match(self, path: Path, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no pattern applies)."""
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            return None
        verdict = None
        for regex, negated, dir_only in self.patterns:
            if dir_only and not is_dir:
                continue
            if regex.match(rel):
                verdict = not negated
        return verdict


def ignore_file(folder: Path) -> IgnoreFile | None:
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return IgnoreFile(folder, lines)


def is_ignored(path: Path, chain: list[IgnoreFile], is_dir: bool) -> bool:
    verdict = False
    for rules in chain:
        result = rules.match(path, is_dir)
        if result is not None:
            verdict = result
    return verdict


def chain_for(folder: Path, root: Path,
              load: Callable[[Path], IgnoreFile | None]) -> list[IgnoreFile]:
    """The ``.gitignore`` files from ``root`` down to ``folder`` (outermost first), read by ``load``."""
    folders = [folder, *folder.parents]
    if root in folders:
        folders = folders[: folders.index(root) + 1]
    else:
        folders = [folder]
    return [f for f in (load(d) for d in reversed(folders)) if f is not None]
