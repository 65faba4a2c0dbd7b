"""``[tool.lora-lint]`` configuration: finding it, checking it, resolving it once per run.

The closest ``lora-lint.toml`` or ``pyproject.toml`` with a ``[tool.lora-lint]`` table wins
(``lora-lint.toml`` first in the same folder); nothing cascades. Command-line options are a
second layer on top of the file, with the same keys.
"""
from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import __version__
from .code_stamp import code_stamp
from .discovery import DEFAULT_EXCLUDE
from .errors import ConfigError
from .reading import CONFIG_LIMIT, present, read_text, toml

if TYPE_CHECKING:
    from .violation import Violation

# The rule catalog (and selection, and the rule module's severities) are imported by the functions
# that check or resolve settings, not here: settings read back from their store need none of them.

_LISTS = ("select", "ignore", "extend-select", "exclude", "extend-exclude")
_STRINGS = ("target-peft-version", "target-transformers-version", "model", "fail-on")
KNOWN_KEYS = (*_LISTS, *_STRINGS, "per-file-ignores", "respect-gitignore", "severity", "rules")
SYNTAX_ERROR = "LORA000"


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above ``start`` (a folder that cannot be looked into has none)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "lora-lint.toml"
        if present(candidate):
            return candidate
        candidate = folder / "pyproject.toml"
        if present(candidate) and "lora-lint" in _table(_read_toml(candidate), "tool", candidate):
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return toml().loads(read_text(path, CONFIG_LIMIT))
    except (OSError, UnicodeDecodeError, toml().TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _table(data: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    """``data[key]`` when it is a table (empty when absent); a ``ConfigError`` naming the file otherwise."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key!r} must be a table, not {type(value).__name__}")
    return value


def load_config(path: Path) -> dict[str, Any]:
    """The checked settings of one config file (``[tool.lora-lint]`` or a whole ``lora-lint.toml``)."""
    data = _read_toml(path)
    if path.name != "lora-lint.toml":
        data = _table(_table(data, "tool", path), "lora-lint", path)
    return check_settings(data, where=str(path))


def _option_keys() -> dict[str, set[str]]:
    from .catalog import info

    keys: dict[str, set[str]] = {}
    for code, rule in info().items():
        for key in rule.OPTIONS:
            keys.setdefault(key, set()).add(code)
    return keys


def _unknown(kind: str, key: str, known: Sequence[str], where: str | None) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{f'{where}: ' if where else ''}unknown {kind} {key!r}{hint}")


def _str_list(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key!r} must be a list of strings")
    return value


def _severity(value: Any, key: str, where: str) -> str:
    from .rule import SEVERITIES

    if value not in SEVERITIES:
        raise ConfigError(f"{where}: {key!r} must be one of {', '.join(SEVERITIES)}, not {value!r}")
    return value


def rule_code(token: str, where: str | None = None) -> str:
    """The code of a rule given by its code or name; else a ``ConfigError`` with a did-you-mean."""
    from .catalog import info, to_code

    code = to_code(token)
    if code is None:
        names = list(info()) + [rule.NAME for rule in info().values()]
        raise _unknown("rule", token, names, where)
    return code


def check_settings(data: Mapping[str, Any], *, where: str = "settings") -> dict[str, Any]:
    """Validate config keys and values; unknown keys are errors with a did-you-mean."""
    from .catalog import info

    option_keys = _option_keys()
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key in _LISTS:
            checked[key] = _str_list(value, key, where)
        elif key == "fail-on":
            checked[key] = _severity(value, key, where)
        elif key in _STRINGS:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key!r} must be a string")
            checked[key] = value
        elif key == "respect-gitignore":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {key!r} must be true or false")
            checked[key] = value
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a table of glob = [codes]")
            checked[key] = {glob: _str_list(codes, f"{key}.{glob}", where) for glob, codes in value.items()}
        elif key == "severity":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a table of rule = severity")
            checked[key] = {rule_code(k, where): _severity(v, f"severity.{k}", where) for k, v in value.items()}
        elif key == "rules":
            checked[key] = _check_rule_options(value, where)
        elif key in option_keys:
            for code in option_keys[key]:
                _check_option(info()[code], key, value, where)
            checked[key] = value
        else:
            raise _unknown("key", key, [*KNOWN_KEYS, *option_keys], where)
    return checked


def _check_rule_options(value: Any, where: str) -> dict[str, dict[str, Any]]:
    from .catalog import info

    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'rules' must be a table of per-rule option tables")
    out: dict[str, dict[str, Any]] = {}
    for token, options in value.items():
        code = rule_code(token, where)
        rule = info()[code]
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: 'rules.{token}' must be a table")
        for key in options:
            if key not in rule.OPTIONS:
                raise _unknown(f"option of {code}", key, list(rule.OPTIONS), where)
            _check_option(rule, key, options[key], where)
        out[code] = dict(options)
    return out


def _check_option(rule: Any, key: str, value: Any, where: str) -> None:
    """A rule option takes a value of its default's kind: true/false for a switch, a positive
    finite number for a number (a ratio)."""
    default = rule.OPTIONS[key]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {rule.CODE} option {key!r} must be true or false, not {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ConfigError(f"{where}: {rule.CODE} option {key!r} must be a positive number, not {value!r}")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, resolved once: enabled rules, severities, options, peft target."""

    enabled: tuple[str, ...]
    peft_spec: str
    peft_spec_source: str
    peft_versions: tuple[str, ...]
    peft_spec_explicit: bool = False  # set by target-peft-version: a script's PEP 723 metadata can't override it
    peft_spec_declared: bool = False  # set by target-peft-version or the project's requirements (not a fallback)
    # (package, specifier, where) of each trainer framework the project declares (knowledge.framework_pins)
    frameworks: tuple[tuple[str, str, str], ...] = ()
    model: str | None = None
    transformers: str | None = None  # version or specifier choosing the architecture data
    transformers_explicit: bool = False  # set by target-transformers-version
    severities: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fail_on: str = "warning"
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    root: str | None = None
    config_path: str | None = None
    reasons: Mapping[str, str] = field(default_factory=dict, compare=False)

    def severity(self, code: str, finding: str | None = None) -> str:
        """The configured severity of ``code``, else the finding's own, else the rule's."""
        from .catalog import info

        return self.severities.get(code) or finding or info()[code].SEVERITY

    def fails(self, violations: Iterable[Violation]) -> bool:
        """Whether any of the violations is at least as severe as ``fail-on``."""
        from .rule import SEVERITIES

        floor = SEVERITIES.index(self.fail_on)
        return any(SEVERITIES.index(v.severity) >= floor for v in violations)

    def ignored_for(self, relpath: str) -> set[str]:
        """Codes that ``per-file-ignores`` turns off for a path relative to the root."""
        name = relpath.rsplit("/", 1)[-1]
        codes: set[str] = set()
        for pattern, selected in self.per_file_ignores:
            if fnmatch.fnmatch(relpath, pattern) or ("/" not in pattern and fnmatch.fnmatch(name, pattern)):
                codes.update(selected)
        return codes

    def fingerprint(self) -> str:
        """Changes whenever a setting that affects findings changes (the cache key)."""
        from .knowledge.architectures import installed_transformers

        data = [__version__, code_stamp(), self.enabled, self.peft_spec, self.peft_spec_source, self.peft_versions,
                self.peft_spec_explicit, self.peft_spec_declared, self.frameworks, self.model, self.transformers, self.transformers_explicit,
                installed_transformers(), sorted(self.severities.items()),
                sorted((k, sorted(v.items())) for k, v in self.options.items()), self.per_file_ignores,
                self.root]  # per-file-ignores match paths relative to the root
        return hashlib.sha256(json.dumps(data, default=repr).encode()).hexdigest()[:16]


def _enabled(layers: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[set[str], dict[str, str]]:
    from .catalog import info, to_code
    from .selection import default_codes, expand_all

    enabled = default_codes()
    reasons = {code: "on by default" if code in enabled else "off by default" for code in info()}
    keep_syntax = True
    for where, layer in layers:
        if layer.get("select") is not None:
            enabled = expand_all(layer["select"])
            for code in reasons:
                reasons[code] = f"{'selected' if code in enabled else 'not selected'} by select ({where})"
        for code in expand_all(layer.get("extend-select", ())):
            enabled.add(code)
            reasons[code] = f"extend-select ({where})"
        for selector in layer.get("ignore", ()):
            if to_code(selector) == SYNTAX_ERROR:
                keep_syntax = False
            for code in expand_all([selector]):
                enabled.discard(code)
                reasons[code] = f"ignored ({where})"
    if keep_syntax and SYNTAX_ERROR in reasons:
        enabled.add(SYNTAX_ERROR)
        reasons[SYNTAX_ERROR] = "always on unless ignored by its code or name"
    return enabled, reasons


def _peft_target(layers: Sequence[tuple[str, Mapping[str, Any]]],
                 root: Path | None) -> tuple[str, str, tuple[str, ...], bool, bool]:
    from .knowledge import peft_releases

    spec = source = None
    for where, layer in reversed(layers):
        if layer.get("target-peft-version") is not None:
            spec, source = layer["target-peft-version"], where
            break
    explicit = spec is not None
    if spec is None and root is not None:
        from .project import detect_requirement

        detected = detect_requirement(root, "peft")
        if detected is not None:
            spec, source = detected
    declared = spec is not None
    if spec is None:
        installed = peft_releases.installed_version()
        if installed:
            spec, source = f"=={installed}", "installed peft"
            release = peft_releases.release_of(installed)
            if release is not None and release != installed:
                return spec, f"{source}, checked as its release {release}", (release,), explicit, declared
        else:
            spec, source = f"=={peft_releases.newest()}", "newest known peft release"
    try:
        versions = tuple(peft_releases.versions_in(spec))
    except ValueError as exc:
        raise ConfigError(f"invalid peft version specifier {spec!r} (from {source}): {exc}") from exc
    if not versions and not explicit and peft_releases.allows_newer(spec):
        # a release after the data was generated: it has (at least) what the newest one has
        newest = peft_releases.newest()
        return spec, f"{source}, checked as {newest}, the newest release known", (newest,), explicit, declared
    if not versions:
        raise ConfigError(f"no known peft release matches {spec!r} (from {source})")
    return spec, source, versions, explicit, declared


def _frameworks(root: Path | None) -> tuple[tuple[str, str, str], ...]:
    """The trainer frameworks (axolotl, LLaMA-Factory) the project declares with a version range; a
    declaration that cannot be read is left out (its YAML is checked as before: against the
    project's peft range), as is one that pins none."""
    if root is None:
        return ()
    from .knowledge.framework_pins import PACKAGES
    from .project import detect_requirement

    found = []
    for package in (name for names in PACKAGES.values() for name in names):
        try:
            detected = detect_requirement(root, package)
        except ConfigError:
            continue
        if detected is not None:
            found.append((package, *detected))
    return tuple(found)


def _transformers_target(layers: Sequence[tuple[str, Mapping[str, Any]]]) -> str | None:
    """``target-transformers-version`` of the top layer that sets it: a version or a PEP 440 specifier."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    for where, layer in reversed(layers):
        value = layer.get("target-transformers-version")
        if value is None:
            continue
        try:
            Version(value)
        except InvalidVersion:
            try:
                SpecifierSet(value)
            except InvalidSpecifier as exc:
                raise ConfigError(f"invalid transformers version or specifier {value!r} (from {where}): {exc}") from exc
        return value
    return None


def resolve(layers: Sequence[tuple[str, Mapping[str, Any]]], *, root: Path | None = None,
            config_path: Path | None = None) -> Settings:
    """Combine checked settings layers (lowest first, e.g. config file then command line)."""
    from .selection import expand_all

    enabled, reasons = _enabled(layers)
    merged: dict[str, Any] = {}
    for _, layer in layers:
        for key, value in layer.items():  # tables merge key by key; other values replace
            merged[key] = {**merged[key], **value} if key in ("severity", "per-file-ignores") and key in merged else value
    spec, source, versions, explicit, declared = _peft_target(layers, root)
    transformers = _transformers_target(layers)
    if transformers is None and root is not None:
        from .project import detect_requirement

        transformers = (detect_requirement(root, "transformers") or (None,))[0]
    options: dict[str, dict[str, Any]] = {}
    for key, codes in _option_keys().items():
        if key in merged:
            for code in codes:
                options.setdefault(code, {})[key] = merged[key]
    for _, layer in layers:
        for code, values in layer.get("rules", {}).items():
            options.setdefault(code, {}).update(values)
    per_file = tuple((glob, tuple(sorted(expand_all(codes)))) for glob, codes in merged.get("per-file-ignores", {}).items())
    return Settings(
        enabled=tuple(sorted(enabled)),
        peft_spec=spec,
        peft_spec_source=source,
        peft_versions=versions,
        peft_spec_explicit=explicit,
        peft_spec_declared=declared,
        frameworks=_frameworks(root),
        model=merged.get("model"),
        transformers=transformers,
        transformers_explicit=merged.get("target-transformers-version") is not None,
        severities=dict(merged.get("severity", {})),
        options=options,
        fail_on=merged.get("fail-on", "warning"),
        per_file_ignores=per_file,
        exclude=tuple(merged.get("exclude", DEFAULT_EXCLUDE))
        + tuple(p for _, layer in layers for p in layer.get("extend-exclude", ())),
        respect_gitignore=merged.get("respect-gitignore", True),
        root=str(root) if root is not None else None,
        config_path=str(config_path) if config_path is not None else None,
        reasons=reasons,
    )


def settings_for(start: Path, *, config_file: Path | None = None, isolated: bool = False,
                 extra: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> Settings:
    """Settings for a run from ``start``: the nearest config file (or ``config_file``; none when
    ``isolated``), then each ``(where, settings)`` layer of ``extra`` on top."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} not found")
    path = config_file if config_file is not None else None if isolated else find_config(start)
    layers: list[tuple[str, Mapping[str, Any]]] = [(str(path), load_config(path))] if path is not None else []
    layers += [(where, check_settings(data, where=where)) for where, data in extra]
    root = path.resolve().parent if path is not None else start.resolve()
    return resolve(layers, root=root, config_path=path)
