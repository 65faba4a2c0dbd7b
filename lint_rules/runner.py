"""Linting (or fixing) many files: cache look-ups, a process pool for many files, atomic writes."""
from __future__ import annotations

import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import consulted, sources
from .cache import Cache, content_hash, settled
from .config import Settings
from .errors import FixError, LintError
from .prefilter import Prefilter
from .reading import FILE_LIMIT, SOURCE_LIMIT, UNDECODABLE, decode, read_bytes, size_text
from .serialize import from_dict, to_dict
from .sources import names
from .violation import Violation, fixable

if TYPE_CHECKING:  # libcst (through the engine) is imported only when a file must be linted
    from .engine import Linter

PARALLEL_MIN_FILES = 24  # below this, a pool costs more than it saves
FILES_PER_WORKER = PARALLEL_MIN_FILES // 2  # never more workers than cores or than this many files each


@dataclass
class Task:
    path: str  # where to read/write (absolute, symlinks resolved)
    filename: str  # as reported
    relpath: str  # relative to the project root, for per-file-ignores
    text: str
    digest: str
    encoding: str = "utf-8"  # written back the same way ("utf-8-sig" keeps a BOM)
    unreadable: str | None = None  # why the text could not be decoded (reported as LORA000)
    given: str = ""  # the absolute path as found, before symlinks are resolved (also the cache key)
    stat: list[int] | None = None  # the file's settled stat before it was read (see cache.settled)


@dataclass
class FileResult:
    filename: str
    violations: list[Violation] = field(default_factory=list)
    fixed: list[Violation] = field(default_factory=list)
    original: str | None = None
    new_source: str | None = None  # set when fixing changed the file
    error: str | None = None
    cached: bool = False  # taken from the cache without reading the file
    inputs: list[consulted.Input] = field(default_factory=list)  # what the verdict read besides the file


@dataclass
class RunResult:
    files: list[FileResult]
    cache_hits: int = 0

    @property
    def violations(self) -> list[Violation]:
        return [v for f in self.files for v in f.violations]

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.files if f.error]


_worker_linter: Linter | None = None


def _init_worker(settings: Settings) -> None:
    from .engine import Linter

    global _worker_linter
    _worker_linter = Linter(settings)


def _process(task: Task, fix: bool, unsafe: bool, linter: Linter | None = None) -> FileResult:
    linter = linter or _worker_linter
    assert linter is not None
    result = FileResult(task.filename)
    if task.unreadable is not None:
        result.violations = linter.invalid_file(task.filename, task.unreadable, task.relpath)
        return result
    try:
        with consulted.recording() as inputs:
            if fix:
                outcome = linter.fix(task.text, task.filename, unsafe=unsafe, relpath=task.relpath)
                result.violations, result.fixed = outcome.violations, outcome.fixed
                if outcome.source != task.text:
                    result.original, result.new_source = task.text, outcome.source
            else:
                result.violations = linter.lint(task.text, task.filename, relpath=task.relpath)
        result.inputs = sorted(inputs)
    except FixError as exc:  # the file stays as it is, and so do its findings
        result.error = str(exc)
        try:
            result.violations = linter.lint(task.text, task.filename, relpath=task.relpath)
        except Exception:  # already reported: the file could not be fixed
            pass
    except LintError as exc:
        result.error = str(exc)
    except Exception as exc:  # a crash in one file must not hide the others
        result.error = f"{task.filename}: internal error: {type(exc).__name__}: {exc}"
    return result


def _process_star(args: tuple[Task, bool, bool]) -> FileResult:
    return _process(*args)


def _died(args: tuple[Task, bool, bool], why: str) -> FileResult:
    task = args[0]
    return FileResult(task.filename, error=f"{task.filename}: internal error: the process linting it was {why}")


def read_task(path: Path, filename: str, relpath: str, real: str | None = None) -> Task | FileResult:
    """The file's text, as ``decode`` reads it; an error for a file that is not a regular file or
    is over the size limits (``reading``). ``real``: the path resolved already (``Discovery.real``,
    which resolves each folder once: ``Path.resolve`` looks at every folder of every path)."""
    try:
        data = read_bytes(path, FILE_LIMIT)
    except OSError as exc:
        return FileResult(filename, error=f"{filename}: cannot read: {exc}")
    task = Task(real or str(path.resolve()), filename, relpath, "", content_hash(data), given=os.path.abspath(path))
    return task_from_bytes(task, data, path.suffix)


def task_from_bytes(task: Task, data: bytes, suffix: str) -> Task | FileResult:
    """``task`` with the text of ``data`` (a file's or stdin's bytes) decoded as a file is; bytes
    that cannot be decoded are reported as ``LORA000``; a source over its size limit is an error."""
    if len(data) > SOURCE_LIMIT and names.kind_of(task.filename or suffix) == "python" \
            and (b"peft" in data or b"LoraConfig" in data):
        return FileResult(task.filename, error=f"{task.filename}: not linted: {size_text(len(data))}, over the "
                                               f"{size_text(SOURCE_LIMIT)} limit for a source file that uses peft")
    try:
        task.text, task.encoding = decode(data, suffix)
    except UNDECODABLE as exc:
        task.unreadable = f"cannot decode the file: {exc}"
    return task


def load(path: Path, filename: str, relpath: str, cache: Cache | None = None,
         real: str | None = None) -> Task | FileResult:
    """The file as ``read_task`` reads it; with a cache, a file whose stat and inputs say it is
    unchanged since it passed is not even read (its cached, empty result comes back)."""
    if cache is None:
        return read_task(path, filename, relpath, real)
    key = os.path.abspath(path)
    try:
        info: os.stat_result | None = os.stat(path)
    except OSError:
        info = None
    if info is not None and cache.lookup(key, info) == []:
        return FileResult(filename, cached=True)
    read_at = time.time_ns()
    task = read_task(path, filename, relpath, real)
    if isinstance(task, Task):
        task.stat = settled(info, read_at)
    return task


def _cached(cache: Cache, task: Task) -> list[Violation] | None:
    """The cached findings of the task's content, if the entry is sound."""
    found = cache.get(task.given or task.path, task.digest, task.stat)
    if found is None:
        return None
    try:
        return [from_dict(v, task.filename) for v in found]
    except (KeyError, TypeError, ValueError):
        cache.discard(task.given or task.path)
        return None


def run(tasks: list[Task | FileResult], settings: Settings, *, fix: bool = False, unsafe: bool = False,
        write: bool = True, jobs: int | None = None, cache: Cache | None = None) -> RunResult:
    """Lint (``fix=False``) or fix the files; with ``write`` fixed files are written back.

    Only the files an enabled rule could fire on (``Linter.prefilter``) are linted, in a pool when
    there are many, largest first; a file without findings has its ``Task.text`` let go ("")."""
    results: dict[int, FileResult] = {}
    todo: list[tuple[int, Task]] = []
    passed_over: list[tuple[int, Task]] = []  # nothing to lint: no enabled rule's trigger in the text
    prefilter: Prefilter | None = None
    hits = 0
    for index, task in enumerate(tasks):
        if isinstance(task, FileResult):
            results[index] = task
            hits += task.cached
            continue
        violations = _cached(cache, task) if cache is not None else None
        if violations is not None:
            if not (fix and any(fixable(v, unsafe) for v in violations)):
                results[index] = FileResult(task.filename, violations)
                hits += 1
                continue
        prefilter = prefilter or Prefilter.for_codes(settings.enabled)
        if task.unreadable is None and not sources.for_name(task.path).worth_linting(task.text, prefilter):
            results[index] = FileResult(task.filename)
            passed_over.append((index, task))
        else:
            todo.append((index, task))
    todo.sort(key=lambda item: len(item[1].text), reverse=True)  # the longest files do not start last
    workers = min(jobs or cpu_count(), cpu_count(), len(todo) // FILES_PER_WORKER)
    if workers > 1:
        from .pool import run_pool

        chunk = max(1, len(todo) // (workers * 16))  # each worker holds two: small ones balance the end
        done = run_pool(_process_star, [(task, fix, unsafe) for _, task in todo], workers, on_death=_died,
                        initializer=_init_worker, initargs=(settings,), chunksize=chunk)
        for (index, _), result in zip(todo, done):
            results[index] = result
    elif todo:
        from .engine import Linter

        linter = Linter(settings)
        for index, task in todo:
            results[index] = _process(task, fix, unsafe, linter)
    if fix and write:
        remove_stale_temp_files({os.path.dirname(task.path) for _, task in todo})
    for index, task in [*passed_over, *todo]:
        result = results[index]
        if fix and write and result.new_source is not None and not result.error:
            try:
                refuse_link_out_of_tree(task)
                write_atomic(Path(task.path), result.new_source, task.encoding, expected=task.digest)
            except NotWritten as exc:
                _unfixed(result, task, settings, f"{task.filename}: {exc}; not fixed")
            except OSError as exc:
                _unfixed(result, task, settings, f"{task.filename}: cannot write the fix: {exc}")
        if cache is not None and not result.error and (result.new_source is None or write):
            changed = result.new_source is not None
            digest = content_hash(result.new_source.encode(task.encoding)) if changed else task.digest
            cache.put(task.given or task.path, digest, [to_dict(v) for v in result.violations], result.inputs,
                      None if changed else task.stat)
        if not result.violations:
            task.text = ""  # let it go: only a report of findings shows source lines
    if cache is not None:
        remove_stale_temp_files([os.path.dirname(cache.path)])
        cache.save()
    return RunResult([results[i] for i in range(len(tasks))], hits)


TEMP_MARK = ".lora-lint-"  # in every temporary file's name: .<name>.lora-lint-<pid>-<random>.tmp
_TEMP_NAME = re.compile(r"\..+\.lora-lint-(\d+)-[^.]+\.tmp")


class NotWritten(OSError):
    """A file deliberately left as it is (the reason is the message)."""


def _unfixed(result: FileResult, task: Task, settings: Settings, error: str) -> None:
    """The file stays as it was read: its findings are those of that text, none counts as fixed."""
    from .engine import Linter

    result.error, result.new_source, result.fixed = error, None, []
    try:
        result.violations = Linter(settings).lint(task.text, task.filename, relpath=task.relpath)
    except Exception:  # the findings are a courtesy here; the error is what must be reported
        result.violations = []


def refuse_link_out_of_tree(task: Task) -> None:
    """Raise ``NotWritten`` for a file reached through a symlink whose target lies outside the
    project (its ``relpath`` is then absolute): a fix never writes outside the linted tree."""
    if task.given and task.given != task.path and os.path.isabs(task.relpath):
        raise NotWritten(f"a symlink to {task.path}, outside the project")


def write_atomic(path: Path, text: str | bytes, encoding: str = "utf-8", *, expected: str | None = None) -> None:
    """Replace (or create) ``path`` with ``text`` (or bytes, written as they are) via a temporary
    file in the same folder.

    With ``expected`` (the content hash of the text the fix was computed from) ``path`` must be
    an existing regular file that still holds that content, has one name (no hard links) and
    that this user may write; its mode and owner are kept. Otherwise ``NotWritten`` is raised
    and nothing changes. The content and inode are checked again just before the replace."""
    before: os.stat_result | None = None
    if expected is not None:
        before = _check_replaceable(path, expected)
    else:
        try:
            before = path.stat()
        except FileNotFoundError:
            pass
    import tempfile  # (only a run that writes: it imports shutil, random, bz2 and lzma)

    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with (os.fdopen(handle, "wb") if isinstance(text, bytes)
              else os.fdopen(handle, "w", encoding=encoding, newline="")) as out:
            out.write(text)
            if before is not None:
                _keep_owner_and_mode(out.fileno(), tmp, before, owner=expected is not None)
        if expected is not None and _identity(path.stat()) != _identity(before):
            raise NotWritten("changed during the run")
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _identity(st: os.stat_result | None) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) if st is not None else ()


def _check_replaceable(path: Path, expected: str) -> os.stat_result:
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise NotWritten("no longer a regular file")
    if st.st_nlink > 1:
        raise NotWritten(f"it has {st.st_nlink} hard links, and replacing it would split them")
    if not os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        raise NotWritten("you may not write it")
    # never blocks (a FIFO put in its place) and reads no more than the file held when stat'ed
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as current:
        if _identity(os.fstat(current.fileno())) != _identity(st) or content_hash(current.read(st.st_size + 1)) != expected:
            raise NotWritten("changed during the run")
    return st


def _keep_owner_and_mode(fd: int, tmp: str, st: os.stat_result, owner: bool) -> None:
    mine = os.fstat(fd)
    if owner and hasattr(os, "fchown") and (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except PermissionError:
            raise NotWritten("owned by another user or group, which a replacement would not keep") from None
    os.chmod(tmp, stat.S_IMODE(st.st_mode))


def remove_stale_temp_files(folders: Iterable[str]) -> int:
    """Delete the temporary files a killed run left in ``folders`` (named with ``TEMP_MARK`` and
    the pid of a process that no longer exists); how many were deleted."""
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            found = _TEMP_NAME.fullmatch(entry.name) if TEMP_MARK in entry.name else None
            if found is None or _alive(int(found.group(1))) or not entry.is_file(follow_symlinks=False):
                continue
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def cpu_count() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def lint_paths(paths: Sequence[str | Path], *, settings: Mapping[str, Any] | None = None,
               select: Sequence[str] | None = None, jobs: int | None = None,
               use_cache: bool = False) -> list[Violation]:
    """Lint files and folders as ``lora-lint PATHS`` does: the nearest config file, then
    ``settings`` (keys as in ``[tool.lora-lint]``) and ``select`` on top. Raises ``LintError``
    for a config error or a file that could not be read or linted."""
    from .config import settings_for
    from .discovery import Discovery, common_folder

    given = [Path(p) for p in paths]
    start = Path(common_folder(given))
    extra: list[tuple[str, Mapping[str, Any]]] = [("settings", settings or {})]
    if select is not None:
        extra.append(("select", {"select": list(select)}))
    resolved = settings_for(start, extra=extra)
    root = Path(resolved.root or start)
    discovery = Discovery(root, resolved.exclude, resolved.respect_gitignore)
    cache = Cache(root, resolved.fingerprint()) if use_cache else None
    tasks: list[Task | FileResult] = [load(Path(path), path, discovery.relpath(path), cache, discovery.real(path))
                                      for path in discovery.files(given)]
    tasks += [FileResult("", error=problem) for problem in discovery.problems]
    result = run(tasks, resolved, jobs=jobs, cache=cache)
    if result.errors:
        raise LintError("; ".join(result.errors))
    return result.violations
