"""``pytest --lora-check``: one ``path::lora-check`` item per Python file or notebook that might
use peft, and per LoRA config file.

Imported only when the option is given. Settings come from the rootdir's ``[tool.lora-lint]``
(its excludes and ``.gitignore`` apply too); ``--lora-check-select`` / ``lora_check_select``
narrow the rules. Verdicts are kept in ``config.cache`` (key ``lora_check/passed``, seeded by
every run, also under xdist) as lora-lint's results cache keeps them: per file its stat, content
digest, verdict (``pass``, or ``skip`` for a file no rule can fire on) and what the verdict read
(``lint_rules.consulted``), under the settings fingerprint and signed. A file whose stat and
inputs are unchanged is neither read nor linted, and when every file is known this way neither
libcst nor the rules are imported.

With ``--lora-check-runtime=yes`` (the default, where peft is installed) a file that passes lint
also has its static configs (a Python file's ``LoraConfig`` calls, an adapter_config.json or
trainer YAML's config: ``config_files``) applied with the installed peft to full-size skeletons
on ``meta`` (``runtime_check``): a refusal fails the item, and the session ends with the table of what each
config trains. Rows are cached by file digest under ``lora_check/runtime`` for the installed
peft and transformers versions.
"""
from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from lint_rules import consulted
from lint_rules.cache import settled, sign_value, signed_by_us, stat_key

CACHE_KEY = "lora_check/passed"
RUNTIME_CACHE_KEY = "lora_check/runtime"
ITEM_NAME = "lora-check"
_PROPERTY = "lora_check_verdict"
_RUNTIME_PROPERTY = "lora_check_runtime"
_VERDICTS = ("pass", "skip")


class LoraCheckError(Exception):
    """Findings that fail the check; shown as lora-lint's concise lines."""


def _select(config: pytest.Config) -> list[str] | None:
    raw = config.getoption("lora_check_select") or " ".join(config.getini("lora_check_select"))
    codes = [part for part in re.split(r"[,\s]+", raw or "") if part]
    return codes or None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _entry_ok(entry: Any) -> bool:
    return (isinstance(entry, list) and len(entry) == 4 and entry[2] in _VERDICTS
            and isinstance(entry[1], str) and isinstance(entry[3], list))


class LoraCheckPlugin:
    def __init__(self, config: pytest.Config) -> None:
        from lint_rules.discovery import Discovery
        from lint_rules.errors import LintError
        from lint_rules.settings_cache import load_settings

        self.config = config
        root = Path(config.rootpath)
        select = _select(config)
        extra = [("--lora-check-select", {"select": select})] if select is not None else []
        try:
            settings, self._fingerprint = load_settings(root, extra=extra)
        except LintError as exc:
            raise pytest.UsageError(f"--lora-check: {exc}") from exc
        self.settings = settings
        self.discovery = Discovery(Path(settings.root or root), settings.exclude, settings.respect_gitignore)
        self._linter: Any = None
        self.cache = getattr(config, "cache", None)
        self.known: dict[str, Any] = self._load()
        self.new: dict[str, Any] = {}
        self.runtime = config.getoption("lora_check_runtime", "no") == "yes" and _peft_installed()
        self._versions = _versions_key() if self.runtime else ""
        self.runtime_known: dict[str, Any] = self._load_runtime() if self.runtime else {}
        self.runtime_new: dict[str, Any] = {}
        self.runtime_rows: list[tuple[str, dict]] = []

    def _load(self) -> dict[str, Any]:
        """The stored verdicts, if they are ours (signed) and for these settings."""
        stored = self.cache.get(CACHE_KEY, None) if self.cache is not None else None
        if not (isinstance(stored, dict) and stored.get("fingerprint") == self._fingerprint
                and isinstance(stored.get("files"), dict)):
            return {}
        value = {"fingerprint": stored["fingerprint"], "files": stored["files"]}
        return stored["files"] if signed_by_us(value, stored.get("mac")) else {}

    def _load_runtime(self) -> dict[str, Any]:
        """Runtime rows by file digest, if ours (signed) and for the installed peft and transformers."""
        stored = self.cache.get(RUNTIME_CACHE_KEY, None) if self.cache is not None else None
        if not (isinstance(stored, dict) and stored.get("versions") == self._versions
                and isinstance(stored.get("files"), dict)):
            return {}
        value = {"versions": stored["versions"], "files": stored["files"]}
        return stored["files"] if signed_by_us(value, stored.get("mac")) else {}

    def runtime_check(self, path: Path, digest: str) -> list[dict]:
        """The file's verified configs (cached by content and versions), computed on a miss."""
        rows = self.runtime_new.get(digest, self.runtime_known.get(digest))
        if isinstance(rows, list):
            return rows
        from pytest_lora.runtime_check import static_configs, verify

        task = self.read(path)
        text = getattr(task, "text", None)
        if text is None:
            return []
        if path.suffix == ".py":
            found = static_configs(self.linter, text, task.filename)
        else:
            from pytest_lora.config_files import configs

            found = configs(path.name, text)
        rows = [row for config in found if (row := verify(*config)) is not None]
        self.runtime_new[digest] = rows
        return rows

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.runtime_rows:
            from pytest_lora.runtime_check import format_rows

            terminalreporter.write_sep("-", "lora-check: configs applied with the installed peft on meta")
            for text in format_rows(sorted(self.runtime_rows, key=lambda item: (item[0], item[1]["line"]))):
                terminalreporter.write_line(text)

    @property
    def linter(self) -> Any:
        if self._linter is None:
            from lint_rules.engine import Linter

            self._linter = Linter(self.settings)
        return self._linter

    def verdict(self, key: str, info: os.stat_result | None, digest: str | None = None) -> str | None:
        """The stored verdict of a file with this stat (or, given, this content digest) whose
        inputs are unchanged; ``None`` when it must be looked at again."""
        entry = self.new.get(key) or self.known.get(key)
        if not _entry_ok(entry):
            return None
        if digest is None and (info is None or entry[0] != stat_key(info)):
            return None
        if digest is not None and entry[1] != digest:
            return None
        return entry[2] if consulted.current(entry[3]) else None

    def read(self, path: Path) -> Any:
        """The file as ``lora-lint`` reads it: a ``runner.Task``, or a ``FileResult`` whose ``error``
        says why it cannot be read."""
        from lint_rules.runner import read_task

        return read_task(path, _relative(path, Path(self.config.rootpath)), self.discovery.relpath(path))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for problem in self.discovery.problems:  # e.g. a .gitignore that is not a regular file
            warnings.warn(pytest.PytestWarning(f"--lora-check: {problem}"), stacklevel=1)

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        kind = _kind(file_path)
        if kind is None or self.discovery.left_out(file_path):
            return None
        key, info = str(file_path), _stat(file_path)
        verdict = self.verdict(key, info)
        if verdict is None:
            from lint_rules.runner import FileResult

            read_at = time.time_ns()
            task = self.read(file_path)
            if isinstance(task, FileResult) or task.unreadable is not None:  # the item fails as lora-lint reports it
                return _check_file(parent, file_path)
            verdict = self.verdict(key, info, task.digest)
            if verdict is not None:  # touched, not changed: record its new stat
                self._record(key, [settled(info, read_at), task.digest, verdict, (self.new.get(key) or self.known[key])[3]])
            elif not _worth_an_item(kind, task.text, self.linter.prefilter_for(task.text)):
                verdict = "skip"
                self._record(key, [settled(info, read_at), task.digest, verdict, []])
        if verdict == "skip":
            return None
        return _check_file(parent, file_path)

    def _record(self, key: str, entry: list) -> None:
        """Keep a file's verdict for the cache, unless the stored one says the same: a run that
        learns nothing writes nothing."""
        if key in self.new or entry != self.known.get(key):
            self.new[key] = entry

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            for name, value in report.user_properties:
                if name == _PROPERTY:
                    key, entry = value
                    self._record(key, list(entry))
                elif name == _RUNTIME_PROPERTY:
                    path, digest, rows = value
                    if digest in self.runtime_new or rows != self.runtime_known.get(digest):
                        self.runtime_new[digest] = rows
                    self.runtime_rows += [(path, row) for row in rows]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.cache is None or hasattr(self.config, "workerinput"):
            return
        if self.new:
            value = {"fingerprint": self._fingerprint, "files": {**self.known, **self.new}}
            signature = sign_value(value)
            if signature is not None:
                self.cache.set(CACHE_KEY, {**value, "mac": signature})
        if self.runtime_new:
            value = {"versions": self._versions, "files": {**self.runtime_known, **self.runtime_new}}
            signature = sign_value(value)
            if signature is not None:
                self.cache.set(RUNTIME_CACHE_KEY, {**value, "mac": signature})


def _kind(path: Path) -> str | None:
    """The source kind that reads the file when ``--lora-check`` collects it: a ``.py`` file, a
    notebook, or a LoRA config that ``lora-lint .`` would walk (``adapter_config.json``, axolotl or
    LLaMA-Factory YAML); told from the name alone, no source module imported."""
    from lint_rules.sources import names

    if path.suffix == ".py":
        return "python"
    kind = names.kind_of(path.name)
    return kind if names.walked(kind, path.name) else None


def _worth_an_item(kind: str, text: str, prefilter: Any) -> bool:
    """Whether the file gets an item: what lora-lint would lint, except a notebook that mentions
    no trigger anywhere in its JSON (lora-lint reads every notebook, to report one that is not JSON:
    as items, every notebook of a repository would be checked whether it uses peft or not)."""
    from lint_rules import sources

    if kind == "notebook":
        return prefilter.mentions(text)
    return getattr(sources, kind).worth_linting(text, prefilter)


def _check_file(parent: pytest.Collector, path: Path) -> "LoraCheckFile":
    """The file's check node, a child of the session: pytest sets up every node above an item
    before it runs, and a package's set-up imports its ``__init__.py`` (the user's code: it may
    need what is not installed, or import torch). The node id is the same (from the root)."""
    return LoraCheckFile.from_parent(parent.session, path=path)


class LoraCheckFile(pytest.File):
    def collect(self):
        yield LoraCheckItem.from_parent(self, name=ITEM_NAME)


class LoraCheckItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("lora_check")

    def runtest(self) -> None:
        plugin: LoraCheckPlugin = self.config.pluginmanager.get_plugin("lora-check")
        key, info = str(self.path), _stat(self.path)
        if plugin.verdict(key, info) == "pass":
            entry = plugin.new.get(key) or plugin.known[key]
        else:
            from lint_rules.errors import LintError
            from lint_rules.runner import FileResult

            read_at = time.time_ns()
            task = plugin.read(self.path)
            if isinstance(task, FileResult):
                raise LoraCheckError(f"error: {task.error}")
            if task.unreadable is not None:  # LORA000, as lora-lint reports it
                _fail_on(plugin, plugin.linter.invalid_file(task.filename, task.unreadable, task.relpath))
                return
            with consulted.recording() as inputs:
                try:
                    violations = plugin.linter.lint(task.text, task.filename, relpath=task.relpath)
                except LintError as exc:  # e.g. a PEP 723 block that cannot be read
                    raise LoraCheckError(f"error: {exc}") from exc
            _fail_on(plugin, violations)
            entry = [settled(info, read_at), task.digest, "pass", sorted(list(i) for i in inputs)]
        self.user_properties.append((_PROPERTY, [key, entry]))
        if plugin.runtime:
            rows = plugin.runtime_check(self.path, entry[1])
            where = _relative(self.path, Path(self.config.rootpath))
            refused = [f"{where}:{row['line']}: peft refuses this config on {row['model']}: {row['error']}"
                       for row in rows if "error" in row]
            if refused:
                raise LoraCheckError("\n".join(refused))
            for row in rows:
                if row.get("unmatched"):
                    warnings.warn(pytest.PytestWarning(
                        f"--lora-check: {where}:{row['line']}: target_modules entries {row['unmatched']} match "
                        f"nothing in {row['model']} (peft adapts the others silently)"), stacklevel=1)
                if row.get("ignored"):
                    warnings.warn(pytest.PytestWarning(
                        f"--lora-check: {where}:{row['line']}: the installed peft ignores {row['ignored']} "
                        f"when it loads this adapter config (keys of another peft version)"), stacklevel=1)
            self.user_properties.append((_RUNTIME_PROPERTY, [where, entry[1], rows]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if excinfo.errisinstance(LoraCheckError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, self.nodeid  # the failure's headline names the file


def _fail_on(plugin: LoraCheckPlugin, violations: list[Any]) -> None:
    if plugin.settings.fails(violations):
        from lint_rules.output.concise import line

        raise LoraCheckError("\n".join(line(v) for v in violations))


def _versions_key() -> str:
    """What a cached runtime row depends on besides the file: the installed peft and transformers."""
    from lint_rules import installed

    return ",".join(f"{name}={installed.version(name) or 'none'}" for name in ("peft", "transformers"))


def _peft_installed() -> bool:
    """Whether the runtime check can run (peft and torch importable), without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("peft", "torch", "transformers"))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
