"""``pytest --lora-check``: one ``path::lora-check`` item per Python file that might use peft.

Imported only when the option is given (it imports libcst through ``lint_rules``). Settings come
from the rootdir's ``[tool.lora-lint]`` (its excludes and ``.gitignore`` apply too);
``--lora-check-select`` / ``lora_check_select`` narrow the rules. A file that passed with the same content and settings passes again without being
linted (``config.cache`` key ``lora_check/passed``, seeded by every run, also under xdist).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from lint_rules import analysis, config as lint_config
from lint_rules.discovery import Discovery
from lint_rules.engine import Linter
from lint_rules.errors import LintError
from lint_rules.output.concise import line
from lint_rules.runner import UNDECODABLE, decode

CACHE_KEY = "lora_check/passed"
ITEM_NAME = "lora-check"
_PROPERTY = "lora_check_digest"


class LoraCheckError(Exception):
    """Findings that fail the check; shown as lora-lint's concise lines."""


def _select(config: pytest.Config) -> list[str] | None:
    raw = config.getoption("lora_check_select") or " ".join(config.getini("lora_check_select"))
    codes = [part for part in re.split(r"[,\s]+", raw or "") if part]
    return codes or None


class LoraCheckPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        root = Path(config.rootpath)
        select = _select(config)
        extra = [("--lora-check-select", {"select": select})] if select is not None else []
        try:
            settings = lint_config.settings_for(root, extra=extra)
        except LintError as exc:
            raise pytest.UsageError(f"--lora-check: {exc}") from exc
        self.settings = settings
        self.discovery = Discovery(Path(settings.root or root), settings.exclude, settings.respect_gitignore)
        self.linter = Linter(settings)
        self._fingerprint = settings.fingerprint()
        cache = getattr(config, "cache", None)
        self.cache = cache
        self.passed: dict[str, str] = dict(cache.get(CACHE_KEY, {})) if cache is not None else {}
        self.new_passes: dict[str, str] = {}

    def digest(self, text: str) -> str:
        return hashlib.blake2b(f"{self._fingerprint}\0{text}".encode(), digest_size=16).hexdigest()

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if file_path.suffix != ".py" or self.discovery.left_out(file_path):
            return None
        try:
            text = decode(file_path.read_bytes())[0]
        except (OSError, *UNDECODABLE):
            return None
        if not analysis.might_use_peft(text):
            return None
        return LoraCheckFile.from_parent(parent, path=file_path)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            for name, value in report.user_properties:
                if name == _PROPERTY:
                    self.new_passes[report.nodeid.rsplit("::", 1)[0]] = value

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.cache is not None and not hasattr(self.config, "workerinput") and self.new_passes:
            self.cache.set(CACHE_KEY, {**self.passed, **self.new_passes})


class LoraCheckFile(pytest.File):
    def collect(self):
        yield LoraCheckItem.from_parent(self, name=ITEM_NAME)


class LoraCheckItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("lora_check")

    def runtest(self) -> None:
        plugin: LoraCheckPlugin = self.config.pluginmanager.get_plugin("lora-check")
        text = decode(self.path.read_bytes())[0]
        digest = plugin.digest(text)
        key = self.nodeid.rsplit("::", 1)[0]
        if plugin.passed.get(key) != digest:
            filename = _relative(self.path, Path(self.config.rootpath))
            violations = plugin.linter.lint(text, filename, relpath=plugin.discovery.relpath(self.path))
            if plugin.settings.fails(violations):
                raise LoraCheckError("\n".join(line(v) for v in violations))
        self.user_properties.append((_PROPERTY, digest))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if excinfo.errisinstance(LoraCheckError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, self.nodeid  # the failure's headline names the file


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
