"""The versions a project declares of a package (peft, transformers) as a PEP 440 specifier.

``detect_requirement(start_dir, package)`` walks up from ``start_dir`` to the project root (the
first folder with ``pyproject.toml``, ``setup.cfg``, ``setup.py`` or ``.git``) and reads, in
each folder: ``pyproject.toml`` (``[project] dependencies``, ``optional-dependencies``,
Poetry's ``[tool.poetry.dependencies]`` and groups), ``setup.cfg`` (``install_requires``,
``extras_require``) and ``requirements*.txt`` (following ``-r`` includes). Every
requirement on the package found in the first folder that has any is combined (all must
hold). A bare ``peft`` declares no range: ``None``, so the caller falls back to the
installed version.

``detect_inline_requirement(source, package)`` reads a script's PEP 723 ``# /// script``
block; ``context_for_source`` applies it to a ``RuleContext`` (the engine's per-file hook).
"""
from __future__ import annotations

import configparser
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any, Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from . import consulted

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_SCRIPT_BLOCK = re.compile(r"^# /// script$\s(?P<body>(?:^#(?:| .*)$\s)+)^# ///$", re.MULTILINE)


def _specs(lines: Iterable[str], package: str) -> list[str] | None:
    """The specifiers of every requirement on ``package`` among PEP 508 strings; ``None`` if none."""
    found: list[str] | None = None
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) == package:
            found = (found or []) + [str(requirement.specifier) if not requirement.url else ""]
    return found


def _combine(specs: list[str]) -> str | None:
    merged = SpecifierSet(",".join(s for s in specs if s))
    return str(merged) or None


def _poetry_spec(value: Any) -> str | None:
    """A Poetry constraint (``^0.9``, ``~0.9.1``, ``0.9.0``, ``*``, a table) as PEP 440."""
    if isinstance(value, dict):
        value = value.get("version", "*")
    if not isinstance(value, str):
        return None
    parts = []
    for piece in value.split(","):
        piece = piece.strip()
        if piece in ("", "*"):
            continue
        if piece[0] in "^~" and piece[1:2] != "=":
            given = [int(n) for n in re.findall(r"\d+", piece)]
            numbers = given + [0, 0]
            if piece[0] == "^":  # the first non-zero part, else the last one given (^0 is <1)
                bump = next((i for i, n in enumerate(numbers[:3]) if n), min(len(given), 3) - 1)
            else:
                bump = 1 if piece.count(".") >= 1 else 0
            upper = numbers[:bump] + [numbers[bump] + 1]
            parts += [f">={piece[1:]}", "<" + ".".join(map(str, upper))]
        elif piece[0].isdigit():
            parts.append(f"=={piece}")
        else:
            parts.append(piece)
    try:
        return str(SpecifierSet(",".join(parts)))
    except InvalidSpecifier:
        return None


def _from_pyproject(path: Path, package: str) -> tuple[list[str], str] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    specs: list[str] = []
    sections: list[str] = []
    project = data.get("project", {})
    found = _specs(project.get("dependencies", []), package)
    if found is not None:
        specs += found
        sections.append("[project] dependencies")
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        found = _specs(requirements, package)
        if found is not None:
            specs += found
            sections.append(f"[project.optional-dependencies] {extra}")
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [("[tool.poetry.dependencies]", poetry.get("dependencies", {}))]
    tables += [(f"[tool.poetry.group.{name}.dependencies]", group.get("dependencies", {}))
               for name, group in sorted(poetry.get("group", {}).items())]
    for section, table in tables:
        for name, value in table.items():
            if canonicalize_name(name) == package:
                spec = _poetry_spec(value)
                if spec is not None:
                    specs.append(spec)
                    sections.append(section)
    return (specs, f"{_display(path)} ({', '.join(sections)})") if sections else None


def _from_setup_cfg(path: Path, package: str) -> tuple[list[str], str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error, UnicodeDecodeError):
        return None
    groups: list[tuple[str, str]] = []
    if parser.has_option("options", "install_requires"):
        groups.append(("[options] install_requires", parser.get("options", "install_requires")))
    if parser.has_section("options.extras_require"):
        groups += [(f"[options.extras_require] {extra}", value)
                   for extra, value in parser.items("options.extras_require")]
    specs: list[str] = []
    sections: list[str] = []
    for section, value in groups:
        found = _specs((line.split("#")[0].strip() for line in value.splitlines()), package)
        if found is not None:
            specs += found
            sections.append(section)
    return (specs, f"{_display(path)} ({', '.join(sections)})") if sections else None


def _requirement_lines(path: Path, seen: set[Path]) -> Iterable[str]:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    consulted.note_path(path)  # a -r include may lie outside the project (lint_rules.settings_cache)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    for raw in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        include = re.match(r"^(?:-r|--requirement)(?:\s+|=)(\S+)", line)
        if include:
            yield from _requirement_lines(path.parent / include.group(1), seen)
        elif line and not line.startswith("-"):
            yield line


def _from_requirements(folder: Path, package: str) -> tuple[list[str], str] | None:
    specs: list[str] = []
    names: list[str] = []
    for path in sorted(folder.glob("requirements*.txt")):
        found = _specs(_requirement_lines(path, set()), package)
        if found is not None:
            specs += found
            names.append(_display(path))
    return (specs, ", ".join(names)) if names else None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def detect_requirement(start_dir: Path, package: str = "peft") -> tuple[str, str] | None:
    """``(specifier, where it came from)`` for ``package`` in the project around ``start_dir``,
    else ``None``."""
    folder = Path(start_dir).resolve()
    while True:
        found = [f for f in (
            _from_pyproject(folder / "pyproject.toml", package) if (folder / "pyproject.toml").is_file() else None,
            _from_setup_cfg(folder / "setup.cfg", package) if (folder / "setup.cfg").is_file() else None,
            _from_requirements(folder, package),
        ) if f is not None]
        if found:
            try:
                spec = _combine([s for specs, _ in found for s in specs])
            except InvalidSpecifier:
                return None
            if spec is None:
                return None
            return spec, "; ".join(where for _, where in found)
        if any((folder / marker).exists() for marker in _ROOT_MARKERS) or folder.parent == folder:
            return None
        folder = folder.parent


def detect_inline_requirement(source: str, package: str = "peft") -> str | None:
    """The specifier of ``package`` in a PEP 723 ``# /// script`` block, else ``None`` (also
    when the block lists it bare)."""
    dependencies = _script_dependencies(source)
    return None if dependencies is None else _inline_spec(dependencies, package)


def _script_dependencies(source: str) -> list | None:
    """The ``dependencies`` list of a PEP 723 ``# /// script`` block, else ``None``."""
    if "# /// script" not in source:
        return None
    match = _SCRIPT_BLOCK.search(source)
    if match is None:
        return None
    toml = "\n".join(line[2:] if line.startswith("# ") else line[1:]
                     for line in match.group("body").splitlines())
    try:
        dependencies = tomllib.loads(toml).get("dependencies", [])
    except tomllib.TOMLDecodeError:
        return None
    return dependencies if isinstance(dependencies, list) else None


def _inline_spec(dependencies: list, package: str) -> str | None:
    found = _specs(dependencies, package)
    if found is None:
        return None
    try:
        return _combine(found)
    except InvalidSpecifier:
        return None


def context_for_source(ctx: Any, source: str, *, peft: bool = True, transformers: bool = True) -> Any:
    """``ctx`` checked against the script's own PEP 723 peft (when ``peft``) and transformers
    (when ``transformers``) requirements, where it declares them."""
    dependencies = _script_dependencies(source) if peft or transformers else None
    if dependencies is None:
        return ctx
    changes: dict[str, Any] = {}
    spec = _inline_spec(dependencies, "peft") if peft else None
    if spec is not None:
        from .knowledge.peft_releases import allows_newer, newest, versions_in

        versions = tuple(versions_in(spec))
        if not versions and allows_newer(spec):  # released after the data: checked as the newest
            versions = (newest(),)
        if versions:
            changes.update(peft_spec=spec, peft_spec_source="the script's PEP 723 metadata",
                           peft_versions=versions)
    spec = _inline_spec(dependencies, "transformers") if transformers else None
    if spec is not None:
        changes["transformers"] = spec
    return dataclasses.replace(ctx, **changes) if changes else ctx
