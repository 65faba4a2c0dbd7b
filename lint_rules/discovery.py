"""Choosing the files to lint: folders walked, ``.gitignore`` and ``exclude`` respected.

Paths are plain strings here (``os.scandir``, no ``pathlib``): a warm run walks every folder of
the tree and stats every file, and that walk is most of its time. A method given a ``Path``
takes it as its string.
"""
from __future__ import annotations

import errno
import os
import stat
import time
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Iterable, Iterator, Union

    from .folder_records import FolderRecords
    from .gitignore import IgnoreFile

    PathLike = Union[str, "os.PathLike[str]"]

from .cache import RACY_NS
from .digests import blake2b
from .reading import CONFIG_LIMIT, read_bytes

SUFFIXES = (".py", ".pyi", ".ipynb", ".json", ".yaml", ".yml")  # what lora-lint reads (``sources``)
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pytest_cache", ".ruff_cache", ".lora_lint_cache", ".svn", ".tox", ".venv", "__pycache__",
    "__pypackages__", "_build", "build", "dist", "node_modules", "site-packages", "venv",
)
GITIGNORE = ".gitignore"


def _parent(path: str) -> str:
    """``str(Path(path).parent)``."""
    stripped = path.rstrip("/") or path
    return os.path.dirname(stripped) or ("/" if stripped.startswith("/") else ".")


def common_folder(paths: Iterable[PathLike]) -> str:
    """The deepest folder holding every path (a folder, or a file's parent), resolved; the working
    directory when there are none."""
    folders = [os.path.realpath(p if os.path.isdir(p) else _parent(p)) for p in map(os.fspath, paths)]
    return os.path.commonpath(folders) if folders else os.getcwd()


class Discovery:
    """Turns the paths given on the command line into files, relative to the project root."""

    def __init__(self, root: PathLike, exclude: Iterable[str], respect_gitignore: bool = True,
                 records: FolderRecords | None = None) -> None:
        self._root = os.path.realpath(root)
        self._root_prefix = self._root.rstrip("/") + "/"
        self._real: dict[str, str] = {}  # each folder and file resolved once per run
        self.respect_gitignore = respect_gitignore
        self.problems: list[str] = []  # what could not be read: unreadable folders, .gitignore files
        self._ignore_read: dict[str, Any] = {}  # each .gitignore read once per run: bytes, absent or the error
        self._ignore_files: dict[str, IgnoreFile | None] = {}  # and compiled once, from those bytes
        self.records = records  # folder listings kept between runs (``folder_records``)
        exclude = list(exclude)
        self._any = _ExcludePatterns(p for p in exclude if not p.endswith("/"))
        self._folders = _ExcludePatterns(p.rstrip("/") for p in exclude if p.endswith("/"))  # folders only

    def _below_root(self, absolute: str) -> str | None:
        """An absolute path relative to the root (``.`` for the root), ``None`` outside it."""
        if absolute.startswith(self._root_prefix):
            return absolute[len(self._root_prefix):]
        return "." if absolute == self._root else None

    def real(self, path: PathLike) -> str:
        """``str(Path(path).resolve())``, resolving each folder once (a file only if it is a symlink)."""
        path = os.fspath(path)
        text = path if path.startswith("/") else os.path.join(os.getcwd(), path)
        found = self._real.get(text)
        if found is not None:
            return found
        folder, name = os.path.split(text)
        if name in ("", ".", ".."):
            found = _resolved(text)
        else:
            real_folder = self._real.get(folder)
            if real_folder is None:
                real_folder = self._real[folder] = _resolved(folder)
            candidate = os.path.join(real_folder, name)
            found = _resolved(candidate) if os.path.islink(candidate) else candidate
        self._real[text] = found
        return found

    def excluded(self, path: PathLike, is_dir: bool = False) -> bool:
        """An ``exclude`` pattern matches the path (relative to the root) or one of its names; a
        pattern ending in ``/`` matches folders only."""
        path = os.fspath(path)
        rel = self._below_root(path if path.startswith("/") else self.real(path))
        return self._excluded_rel(rel if rel is not None else _normal(path), is_dir)

    def _excluded_rel(self, rel: str, is_dir: bool) -> bool:
        if self._any.match(rel):
            return True
        folders = rel if is_dir else rel.rpartition("/")[0]
        return bool(folders) and self._folders.match(folders)

    def relpath(self, path: PathLike) -> str:
        """The path relative to the root, ``/``-separated (what ``per-file-ignores`` matches);
        absolute when it lies outside the root."""
        absolute = self.real(path)
        rel = self._below_root(absolute)
        return rel if rel is not None else absolute

    def gitignored(self, path: PathLike, is_dir: bool = False) -> bool:
        """A ``.gitignore`` ignores the path or a folder it lies in (below the root)."""
        if not self.respect_gitignore:
            return False
        from .gitignore import is_ignored

        resolved = self.real(path)
        rel = self._below_root(resolved)
        if rel is None or rel == ".":
            return is_ignored(resolved, self._chain_for(_parent(resolved)), is_dir)
        chain = self._chain_for(self._root)
        folder = self._root
        for part in rel.split("/")[:-1]:
            folder = os.path.join(folder, part)
            if is_ignored(folder, chain, True):
                return True
            extra = self._ignore_file(folder)
            chain = chain + [extra] if extra is not None else chain
        return is_ignored(resolved, chain, is_dir)

    def left_out(self, path: PathLike, is_dir: bool = False) -> bool:
        """``exclude`` or a ``.gitignore`` leaves the path out."""
        return self.excluded(path, is_dir) or self.gitignored(path, is_dir)

    def files(self, paths: Iterable[PathLike], *, force_exclude: bool = False) -> Iterator[str]:
        """Files to lint, each once, in a stable order (a folder's files sorted by their path's
        parts). Files named explicitly are always linted unless ``force_exclude`` (then
        ``exclude`` and ``.gitignore`` apply to them too)."""
        seen: set[str] = set()
        for path in map(os.fspath, paths):
            is_dir = os.path.isdir(path)
            if force_exclude and self.left_out(path, is_dir):
                continue
            if not is_dir:
                key = self.real(path)
                if key not in seen:
                    seen.add(key)
                    yield _normal(path)
                continue
            walked = sorted(self._walk(os.path.realpath(path)), key=_parts)
            known = self._real.get
            keys = [known(file) or self.real(file) for file in walked]
            new = set(keys)
            if len(new) == len(keys) and seen.isdisjoint(new):  # (the usual case: nothing to drop)
                seen |= new
                yield from walked
                continue
            for file, key in zip(walked, keys):
                if key not in seen:
                    seen.add(key)
                    yield file

    def _walk(self, top: str) -> list[str]:
        """The files below ``top`` (resolved) that a walk picks, not left out. With ``records``, a
        folder whose stat and ``.gitignore`` chain are the recorded ones is not listed again."""
        rel_top = self._below_root(top)
        by_name = self._any.path_re is None and self._folders.path_re is None
        if by_name and rel_top != "." and (self._any.match(rel_top or top) or self._folders.match(rel_top or top)):
            return []  # the top's parts are in every path below it
        records, real, found = self.records, self._real, []
        listed_at = time.time_ns()  # (before any folder's stat: a record's settling is judged against it)
        bases, key = self._top_chain(top) if self.respect_gitignore else ((), "")
        stack: list[tuple[str, tuple[str, ...], str | None, bool]] = [(top, bases, key, False)]
        while stack:
            folder, bases, key, below_top = stack.pop()  # bases and key: the chain down to its parent
            info = record = listing = None
            if records is not None and key is not None:
                info = _stat(folder)
                record = None if info is None else records.get(folder)
            if record is not None and record[0] == info:
                own = self._extended(folder, bases, key, self.respect_gitignore and below_top and record[2])
                if own[1] == record[1]:  # the same .gitignore files, with the same contents
                    listing = (*own, *record[2:])
            if listing is None:
                listing = self._listed(folder, bases, key, below_top)
                if listing is None:
                    if records is not None:
                        records.drop(folder)
                    continue
                if records is not None:
                    records.update(folder, (info, *listing[1:]), info is not None and listing[1] is not None
                                   and max(info[:2]) <= listed_at - RACY_NS)
            own_bases, own_key, _, files, links, folders = listing
            prefix = folder if folder.endswith("/") else folder + "/"
            paths = [prefix + name for name in files]
            real.update(zip(paths, paths))  # below a resolved folder, reached through no link: real
            found += paths
            found += [prefix + name for name in links if _link_is_file(prefix + name)]
            stack += [(prefix + name, own_bases, own_key, True) for name in folders]
        return found

    def _listed(self, folder: str, bases: tuple[str, ...], key: str | None, below_top: bool) -> \
            tuple[tuple[str, ...], str | None, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
        """A folder listed: its chain (``_extended``), whether it holds a ``.gitignore``, and the
        names the walk takes: regular files, symlinks and sub-folders; ``None`` when it cannot be
        listed (a problem, unless it was removed meanwhile)."""
        from .sources.names import walked_by_some_kind as walked

        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except FileNotFoundError:  # removed since the run started
            return None
        except OSError as exc:
            self.problems.append(f"{_shown(folder)}: cannot read the folder: {exc.strerror or exc}")
            return None
        has_gitignore = any(e.name == GITIGNORE for e in entries)
        bases, key = self._extended(folder, bases, key, self.respect_gitignore and below_top and has_gitignore)
        chain = [f for f in map(self._ignore_file, bases) if f is not None]
        if chain:
            from .gitignore import is_ignored
        by_name = self._any.path_re is None and self._folders.path_re is None
        names, folder_names = self._any.names, self._folders.names
        name_re = self._any.name_re or self._folders.name_re  # (then the slower test of each name)
        files: list[str] = []
        links: list[str] = []
        folders: list[str] = []
        for entry in entries:
            is_dir = entry.is_dir(follow_symlinks=False)
            name = entry.name
            if not is_dir and not walked(name):
                continue
            if by_name:  # every folder pushed was tested, so only the entry's own name can match
                if name in names or (is_dir and name in folder_names) or \
                        (name_re is not None and self._name_excluded(name, is_dir)):
                    continue
            else:
                rel = self._below_root(entry.path)  # below a resolved folder: no need to resolve
                if self._excluded_rel(rel if rel is not None else entry.path, is_dir):
                    continue
            if chain and is_ignored(entry.path, chain, is_dir):
                continue
            if is_dir:
                folders.append(name)
            elif entry.is_symlink():  # its target's kind can change with no change here
                links.append(name)
            else:
                try:
                    is_file = entry.is_file()
                except OSError:  # reading it reports why
                    is_file = True
                if is_file:  # below a resolved folder, reached through no link: real
                    files.append(name)
        return bases, key, has_gitignore, tuple(files), tuple(links), tuple(folders)

    def _name_excluded(self, name: str, is_dir: bool) -> bool:
        """An entry's own name matches a name pattern (a folder's also a folders-only one)."""
        return self._any.match_name(name) or (is_dir and self._folders.match_name(name))

    def _chain_for(self, folder: str) -> list[IgnoreFile]:
        """The ``.gitignore`` files from the root down to ``folder`` (outermost first); only
        ``folder``'s own when it is not below the root."""
        return [f for f in map(self._ignore_file, self._chain_folders(folder)) if f is not None]

    def _chain_folders(self, folder: str) -> list[str]:
        """The folders whose ``.gitignore`` can apply in ``folder``: from the root down to it; only
        itself when it is not below the root."""
        folders = [folder]
        if self._below_root(folder) is not None:
            while folders[-1] != self._root:
                folders.append(os.path.dirname(folders[-1]))
        return folders[::-1]

    def _top_chain(self, top: str) -> tuple[tuple[str, ...], str | None]:
        """The folders with a ``.gitignore`` whose patterns apply in a walk's top, and their key."""
        bases: tuple[str, ...] = ()
        key: str | None = ""
        for folder in self._chain_folders(top):
            if os.path.lexists(os.path.join(folder, GITIGNORE)):
                bases, key = self._extended(folder, bases, key, True)
        return bases, key

    def _extended(self, folder: str, bases: tuple[str, ...], key: str | None,
                  has_gitignore: bool) -> tuple[tuple[str, ...], str | None]:
        """The chain with ``folder``'s own ``.gitignore`` (when it has one): the folders whose
        ``.gitignore`` applies, and a key that changes with any of their contents (``None`` once
        one cannot be read: nothing below it is taken from a record, so listing reports it)."""
        if not has_gitignore:
            return bases, key
        try:
            data = self._ignore_bytes(folder)
        except OSError:
            return (*bases, folder), None
        if data is None:
            return bases, key
        digest = blake2b(data, digest_size=16).hexdigest()
        return (*bases, folder), None if key is None else f"{key}{folder}\0{digest}\0"

    def _ignore_bytes(self, folder: str) -> bytes | None:
        """A folder's ``.gitignore`` as read once this run; ``None`` when there is none. Raises
        ``OSError`` for one that cannot be read (not a regular file, over the size limit, no
        permission)."""
        if folder not in self._ignore_read:
            try:
                self._ignore_read[folder] = read_bytes(os.path.join(folder, GITIGNORE), CONFIG_LIMIT)
            except (FileNotFoundError, NotADirectoryError):
                self._ignore_read[folder] = None
            except OSError as exc:
                self._ignore_read[folder] = exc
        found = self._ignore_read[folder]
        if isinstance(found, OSError):
            raise found
        return found

    def _ignore_file(self, folder: str) -> IgnoreFile | None:
        if folder not in self._ignore_files:
            self._ignore_files[folder] = self._load_ignore(folder)
        return self._ignore_files[folder]

    def _load_ignore(self, folder: str) -> IgnoreFile | None:
        if not os.path.lexists(os.path.join(folder, GITIGNORE)):
            return None
        try:
            data = self._ignore_bytes(folder)
        except OSError as exc:
            self.problems.append(f"{_shown(os.path.join(folder, GITIGNORE))}: cannot read: {exc}; "
                                 f"its patterns are not applied")
            return None
        if data is None:
            return None
        from .gitignore import IgnoreFile

        return IgnoreFile(folder, data.decode("utf-8", "replace").splitlines())


def _stat(folder: str) -> tuple[int, int, int, int] | None:
    """What a folder record keeps of a folder's stat; ``None`` when it cannot be had (listing it
    tells why)."""
    try:
        info = os.stat(folder)
    except (OSError, ValueError):
        return None
    return info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev


def _link_is_file(path: str) -> bool:
    """What ``DirEntry.is_file()`` says of a symlink: its target is a regular file (a link that
    cannot be followed, a loop, counts: reading it reports why; a dangling one does not)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True


class _ExcludePatterns:
    """``exclude`` patterns: a bare name matches any path part, a glob any part's name, and a
    pattern with a ``/`` the path relative to the root (and everything below it)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.names: set[str] = set()
        name_globs: list[str] = []
        path_globs: list[str] = []
        for pattern in (p.rstrip("/") for p in patterns):
            if "/" in pattern:
                path_globs += [pattern, pattern + "/*"]
            elif any(c in pattern for c in "*?["):
                name_globs.append(pattern)
            else:
                self.names.add(pattern)
        self.name_re: Any = _compiled(name_globs)
        self.path_re: Any = _compiled(path_globs)

    def match_name(self, name: str) -> bool:
        return name in self.names or (self.name_re is not None and self.name_re.match(name) is not None)

    def match(self, rel: str) -> bool:
        if self.path_re is not None and self.path_re.match(rel):
            return True
        parts = rel.split("/")
        if not self.names.isdisjoint(parts):
            return True
        return self.name_re is not None and any(self.name_re.match(part) for part in parts)


def _compiled(globs: list[str]) -> Any:
    """One regex matching any of the ``fnmatch`` globs; ``None`` for none (and no ``re`` import)."""
    if not globs:
        return None
    import fnmatch
    import re

    return re.compile("|".join(map(fnmatch.translate, globs)))


def _parts(path: str) -> str:
    """A key that sorts paths as ``Path`` sorts them, by their parts: NUL, which no name holds,
    sorts before any character."""
    return path.replace("/", "\0")


def _normal(path: str) -> str:
    """``str(PurePosixPath(path))``: empty and ``.`` parts dropped (``..`` kept)."""
    root = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return root + "/".join(part for part in path.split("/") if part not in ("", ".")) or "."


def _resolved(path: str) -> str:
    """``str(Path(path).resolve())``; a symlink loop stays as it is (reading it says why)."""
    try:
        found = os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.abspath(path)
    try:
        os.stat(found)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # where Path.resolve raises RuntimeError
            return os.path.abspath(path)
    except ValueError:
        pass
    return found


def _shown(path: str) -> str:
    """The path relative to the current folder when it lies below it."""
    here = os.getcwd()
    if path == here:
        return "."
    prefix = here.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path
