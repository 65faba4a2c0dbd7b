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

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import consulted
from .errors import ConfigError
from .reading import CONFIG_LIMIT, present, read_text, toml

_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_SCRIPT_START = re.compile(r"^# /// script$", re.MULTILINE)
_SCRIPT_BLOCK = re.compile(r"^# /// script$\s(?P<body>(?:^#(?:| .*)$\s)+)^# ///$", re.MULTILINE)
_NAME = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # how a PEP 508 requirement starts
_PIP_OPTIONS = re.compile(r"\s+--?[A-Za-z]")  # per-requirement pip options: --hash=..., --config-settings
_INLINE = "the script's PEP 723 metadata"
INLINE_SCRIPT = "# /// script"  # what opens a PEP 723 block: a text without it declares no versions
_SEPARATORS = re.compile(r"[-_.]+")


def _canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: runs of ``-_.`` as one ``-``, lower case."""
    return _SEPARATORS.sub("-", name).lower()


def _specs(lines: Iterable[str], package: str, where: str) -> list[str] | None:
    """The specifiers of every requirement on ``package`` among PEP 508 strings; ``None`` if none.
    A requirement on ``package`` that does not parse is a ``ConfigError`` naming ``where``."""
    from packaging.requirements import InvalidRequirement, Requirement  # (a project that declares any)

    found: list[str] | None = None
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            name = _NAME.match(line)
            if name and _canonical_name(name.group().strip()) == package:
                raise ConfigError(f"{where}: invalid requirement {line!r}: {exc}") from exc
            continue
        if _canonical_name(requirement.name) == package:
            found = (found or []) + [str(requirement.specifier) if not requirement.url else ""]
    return found


def _strings(value: Any, what: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {what} must be a list of strings")
    return value


def _table(data: Any, key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key!r} must be a table, not {type(value).__name__}")
    return value


def _combine(specs: list[str]) -> str | None:
    merged = SpecifierSet(",".join(s for s in specs if s))
    return str(merged) or None


def _poetry_spec(value: str) -> str | None:
    """A Poetry constraint (``^0.9``, ``~0.9.1``, ``0.9.0``, ``*``) as PEP 440; ``None`` if invalid."""
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
    shown = _display(path)
    try:
        data = toml().loads(read_text(path, CONFIG_LIMIT))
    except (OSError, UnicodeDecodeError, toml().TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {shown}: {exc}") from exc
    specs: list[str] = []
    sections: list[str] = []
    project = _table(data, "project", shown)
    dependencies = _strings(project.get("dependencies", []), "[project] dependencies", shown)
    found = _specs(dependencies, package, f"{shown} ([project] dependencies)")
    if found is not None:
        specs += found
        sections.append("[project] dependencies")
    for extra, requirements in sorted(_table(project, "optional-dependencies", shown).items()):
        section = f"[project.optional-dependencies] {extra}"
        found = _specs(_strings(requirements, section, shown), package, f"{shown} ({section})")
        if found is not None:
            specs += found
            sections.append(section)
    poetry = _table(_table(data, "tool", shown), "poetry", shown)
    tables = [("[tool.poetry.dependencies]", _table(poetry, "dependencies", shown))]
    groups = _table(poetry, "group", shown)
    for name in sorted(groups):
        group = _table(groups, name, f"{shown} [tool.poetry.group]")
        tables.append((f"[tool.poetry.group.{name}.dependencies]", _table(group, "dependencies", shown)))
    for section, table in tables:
        for name, value in table.items():
            constraint = value.get("version", "*") if isinstance(value, dict) else value
            if _canonical_name(name) != package or not isinstance(constraint, str):
                continue  # a list of constraints (one per marker) declares no single range
            spec = _poetry_spec(constraint)
            if spec is None:
                raise ConfigError(f"{shown} ({section}): invalid version constraint {name} = {constraint!r}")
            specs.append(spec)
            sections.append(section)
    return (specs, f"{shown} ({', '.join(sections)})") if sections else None


def _from_setup_cfg(path: Path, package: str) -> tuple[list[str], str] | None:
    shown = _display(path)
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(read_text(path, CONFIG_LIMIT), source=shown)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"cannot read {shown}: {exc}") from exc
    groups: list[tuple[str, str]] = []
    if parser.has_option("options", "install_requires"):
        groups.append(("[options] install_requires", parser.get("options", "install_requires")))
    if parser.has_section("options.extras_require"):
        groups += [(f"[options.extras_require] {extra}", value)
                   for extra, value in parser.items("options.extras_require")]
    specs: list[str] = []
    sections: list[str] = []
    for section, value in groups:
        lines = (line.split("#")[0].strip() for line in value.splitlines())
        found = _specs(lines, package, f"{shown} ({section})")
        if found is not None:
            specs += found
            sections.append(section)
    return (specs, f"{shown} ({', '.join(sections)})") if sections else None


def _requirement_lines(path: Path, seen: set[Path], included_by: str | None = None) -> Iterable[tuple[str, str]]:
    """``(requirement, where)`` for each requirement line, following ``-r`` includes."""
    try:
        key = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: reading it says so
        key = path.absolute()
    if key in seen:
        return
    seen.add(key)
    consulted.note_path(key)  # a -r include may lie outside the project (lint_rules.settings_cache)
    shown = _display(path)
    try:
        text = read_text(path, CONFIG_LIMIT)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {shown}{f' (included by {included_by})' if included_by else ''}: {exc}") from exc
    for raw in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        include = re.match(r"^(?:-r|--requirement)(?:\s+|=)(\S+)", line)
        if include:
            yield from _requirement_lines(path.parent / include.group(1), seen, shown)
        elif line and not line.startswith("-"):
            yield _PIP_OPTIONS.split(line, 1)[0], shown


def _from_requirements(folder: Path, package: str) -> tuple[list[str], str] | None:
    specs: list[str] = []
    names: list[str] = []
    for path in sorted(folder.glob("requirements*.txt")):
        found = None
        for line, where in _requirement_lines(path, set()):
            more = _specs([line], package, where)
            if more is not None:
                found = (found or []) + more
        if found is not None:
            specs += found
            names.append(_display(path))
    return (specs, ", ".join(names)) if names else None


def _display(path: Path) -> str:
    """The path relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def detect_requirement(start_dir: Path, package: str = "peft") -> tuple[str, str] | None:
    """``(specifier, where it came from)`` for ``package`` in the project around ``start_dir``,
    else ``None``. A declaration that cannot be read is a ``ConfigError`` naming its file."""
    folder = Path(start_dir).resolve()
    while True:
        found = [f for f in (
            _from_pyproject(folder / "pyproject.toml", package) if present(folder / "pyproject.toml") else None,
            _from_setup_cfg(folder / "setup.cfg", package) if present(folder / "setup.cfg") else None,
            _from_requirements(folder, package),
        ) if f is not None]
        if found:
            spec = _combine([s for specs, _ in found for s in specs])
            if spec is None:
                return None
            return spec, "; ".join(where for _, where in found)
        if any(present(folder / marker) for marker in _ROOT_MARKERS) or folder.parent == folder:
            return None
        folder = folder.parent


def detect_inline_requirement(source: str, package: str = "peft") -> str | None:
    """The specifier of ``package`` in a PEP 723 ``# /// script`` block, else ``None`` (also
    when the block lists it bare). A block that cannot be read is a ``ConfigError``."""
    dependencies = _script_dependencies(source)
    return None if dependencies is None else _inline_spec(dependencies, package)


def _script_dependencies(source: str) -> list[str] | None:
    """The ``dependencies`` list of a PEP 723 ``# /// script`` block, else ``None``."""
    if INLINE_SCRIPT not in source:
        return None
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    starts = len(_SCRIPT_START.findall(text))
    if not starts:
        return None
    if starts > 1:
        raise ConfigError(f"{_INLINE}: more than one '# /// script' block")
    match = _SCRIPT_BLOCK.search(text)
    if match is None:
        raise ConfigError(f"{_INLINE}: the '# /// script' block is not closed by a '# ///' line")
    block = "\n".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in match.group("body").splitlines())
    try:
        dependencies = toml().loads(block).get("dependencies", [])
    except toml().TOMLDecodeError as exc:
        raise ConfigError(f"{_INLINE}: invalid TOML: {exc}") from exc
    return _strings(dependencies, "'dependencies'", _INLINE)


def _inline_spec(dependencies: list[str], package: str) -> str | None:
    found = _specs(dependencies, package, _INLINE)
    return None if found is None else _combine(found)


def context_for_source(ctx: Any, source: str, *, peft: bool = True, transformers: bool = True) -> Any:
    """``ctx`` checked against the script's own PEP 723 peft (when ``peft``) and transformers
    (when ``transformers``) requirements, where it declares them. A block that cannot be read, or
    a peft range no known release matches, is a ``ConfigError`` naming the file."""
    try:
        return _with_inline_requirements(ctx, source, peft, transformers)
    except ConfigError as exc:
        raise ConfigError(f"{ctx.filename}: {exc}") from exc


def _with_inline_requirements(ctx: Any, source: str, peft: bool, transformers: bool) -> Any:
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
        if not versions:
            raise ConfigError(f"no known peft release matches {spec!r} (from {_INLINE})")
        changes.update(peft_spec=spec, peft_spec_source=_INLINE, peft_versions=versions)
    spec = _inline_spec(dependencies, "transformers") if transformers else None
    if spec is not None:
        changes["transformers"] = spec
    return dataclasses.replace(ctx, **changes) if changes else ctx


def context_for_framework(ctx: Any, framework: str, declared: tuple[tuple[str, str, str], ...],
                          peft_declared: bool) -> Any:
    """``ctx`` for a trainer YAML of ``framework`` (``axolotl``, ``llamafactory``): checked against
    the peft that the framework releases the project declares (``declared``: ``Settings.frameworks``)
    require, intersected with the project's own peft range when it declares one
    (``peft_declared``). Unchanged where the framework is not declared, where the data does not
    know what the declared releases require, or where the two ranges have no release in common."""
    from .knowledge.framework_pins import PACKAGES, peft_allowed

    wanted = [(package, spec, where) for package, spec, where in declared if package in PACKAGES.get(framework, ())]
    found = [(spec, where, allowed) for package, spec, where in wanted
             if (allowed := peft_allowed(package, spec)) is not None]
    if not found or len(found) != len(wanted):
        return ctx
    versions = sorted({v for _, _, allowed in found for v in allowed.peft_versions}, key=Version)
    if peft_declared:
        versions = [v for v in versions if v in ctx.peft_versions]
    if not versions:
        return ctx
    pins = [pin for _, _, allowed in found for pin in allowed.pins]
    shown = " or ".join(dict.fromkeys(_both(pin, ctx.peft_spec) if peft_declared else pin or " (any version)"
                                     for pin in pins))
    source = "; ".join(f"{allowed.package}{spec} in {where}: {allowed.describe()}" for spec, where, allowed in found)
    if peft_declared:
        source += f"; and peft{ctx.peft_spec} from {ctx.peft_spec_source}"
    return dataclasses.replace(ctx, peft_spec=shown or " (any version)", peft_spec_source=source,
                               peft_versions=tuple(versions))


def _both(pin: str, spec: str) -> str:
    """Two peft specifiers as one (a bare version counts as ``==``)."""
    try:
        spec = f"=={Version(spec.strip())}"
    except InvalidVersion:
        pass
    try:
        return str(SpecifierSet(pin) & SpecifierSet(spec))
    except InvalidSpecifier:
        return ",".join(s for s in (pin, spec) if s)
