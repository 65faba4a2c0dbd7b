"""What every peft release accepts in ``LoraConfig``, read from ``data/peft_releases.json``.

The JSON is generated from the released wheels by ``scripts/gen_peft_releases.py`` (see its
docstring for what is extracted and how). This module only reads it: standard library and
``packaging``, loaded once on first use, never importing peft.

Versions are release strings such as ``"0.21.2"``; an argument is matched by value
(``"0.9"`` finds ``"0.9.0"``) and a release missing from the data raises ``ValueError``.

Option values (``init_lora_weights``, ``bias``, ``task_type``) are judged two ways:
``recognizes`` -- the release handles this value on purpose (an exact name, a name compared
after ``.lower()``, a prefix family such as ``pissa_niter_<n>`` or ``corda*``, a
``TaskType`` member); ``accepts`` -- the release takes it without an error, which before
0.7.0 is true of any ``init_lora_weights`` string (any truthy value meant the default init)
and before 0.14.0 of any ``task_type``. Spans (``option_span``) follow ``recognizes``.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .. import installed

DATA = Path(__file__).with_name("data") / "peft_releases.json"
OPTIONS = ("init_lora_weights", "bias", "task_type")
_ABSENT = object()


@dataclass(frozen=True)
class _Releases:
    versions: tuple[str, ...]
    index: dict[Version, int]
    fields: tuple[dict[str, object], ...]  # per release: keyword -> default
    annotations: tuple[dict[str, str], ...]  # per release: keyword -> annotation text
    options: dict[str, tuple[dict | None, ...]]
    targets: dict[str, tuple[object, ...]]  # model_type -> per-release default target_modules
    all_linear: tuple[dict | None, ...]
    not_found: tuple[str | None, ...]
    config_checks: tuple[list | None, ...]  # per release: what __post_init__ raises on
    build_checks: tuple[dict | None, ...]  # per release: what building the model does
    attributes: tuple[dict | None, ...]  # per release: a LoraConfig instance's attributes
    layer_kinds: tuple[frozenset[str], ...]  # per release: the module kinds LoRA wraps
    raw: dict


def _expand(changes: dict[str, object], versions: Iterable[Version]) -> list[object]:
    """Per-release values from ``{first_release: value}`` change points (before the first: absent)."""
    points = sorted(((Version(v), value) for v, value in changes.items()), key=lambda p: p[0])
    out: list[object] = []
    current: object = _ABSENT
    for version in versions:
        while points and points[0][0] <= version:
            current = points.pop(0)[1]
        out.append(current)
    return out


@lru_cache(maxsize=1)
def _data() -> _Releases:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    versions = tuple(sorted(raw["releases"], key=Version))
    index = {Version(v): i for i, v in enumerate(versions)}
    parsed = tuple(index)  # the releases as Version objects, ascending
    fields: list[dict[str, object]] = [{} for _ in versions]
    annotations: list[dict[str, str]] = [{} for _ in versions]
    for name, record in raw["fields"].items():
        defaults = _expand(record["default"], parsed)
        types = _expand(record["annotation"], parsed)
        for first, last in record["spans"]:
            for i in range(index[Version(first)], index[Version(last)] + 1):
                fields[i][name] = defaults[i]
                annotations[i][name] = types[i]

    def none_if_absent(values: list[object]) -> tuple:
        return tuple(None if v is _ABSENT else v for v in values)

    return _Releases(
        versions=versions,
        index=index,
        fields=tuple(fields),
        annotations=tuple(annotations),
        options={o: none_if_absent(_expand(raw["options"][o], parsed)) for o in OPTIONS},
        targets={m: none_if_absent(_expand(c, parsed)) for m, c in raw["default_target_modules"].items()},
        all_linear=none_if_absent(_expand(raw["all_linear"], parsed)),
        not_found=none_if_absent(_expand(raw["not_found_error"], parsed)),
        config_checks=none_if_absent(_expand(raw["config_checks"], parsed)),
        build_checks=none_if_absent(_expand(raw["build_checks"], parsed)),
        attributes=none_if_absent(_expand(raw["attributes"], parsed)),
        layer_kinds=tuple(frozenset(k) for k in _expand(raw["layer_kinds"], parsed)),
        raw=raw,
    )


def _at(version: str) -> int:
    data = _data()
    try:
        return data.index[Version(version)]
    except (InvalidVersion, KeyError):
        raise ValueError(f"peft {version!r} is not a release in {DATA.name}") from None


# --------------------------------------------------------------------------- releases


def versions() -> list[str]:
    """Every release in the data, ascending."""
    return list(_data().versions)


def newest() -> str:
    return _data().versions[-1]


def versions_in(spec: str) -> list[str]:
    """Releases allowed by a PEP 440 specifier ("" = all; a bare version means ``==``)."""
    spec = spec.strip()
    if not spec:
        return versions()
    try:
        spec = f"=={Version(spec)}"
    except InvalidVersion:
        pass
    allowed = SpecifierSet(spec)
    return [v for v in _data().versions if allowed.contains(v, prereleases=True)]


def excluded() -> dict[str, str]:
    """Releases on PyPI left out of the data, with the reason (e.g. a pre-release)."""
    return dict(_data().raw["excluded"])


def source() -> dict[str, str]:
    """Where and when the data was taken from (``date``: upload time of the newest release)."""
    return dict(_data().raw["source"])


def release_of(installed: str) -> str | None:
    """The known release an installed peft contains: itself, or for a local, development,
    pre- or post-release build (``0.9.0+cu121``, ``0.22.0.dev0`` from git) the newest release
    not after it; ``None`` for an unparsable version."""
    try:
        version = Version(installed)
    except InvalidVersion:
        return None
    public = Version(version.public)
    older = [v for v in versions() if Version(v) <= public]
    return older[-1] if older else versions()[0]


def allows_newer(spec: str) -> bool:
    """Whether a requirement allows a peft release newer than every known one (released
    after the data was generated)."""
    newest_known = Version(newest())
    try:
        allowed = SpecifierSet(spec)
    except InvalidSpecifier:
        return False
    candidates = [f"{newest_known.major}.{newest_known.minor}.{newest_known.micro + 1}",
                  f"{newest_known.major}.{newest_known.minor + 1}.0", f"{newest_known.major + 1}.0.0"]
    for specifier in allowed:
        try:
            bound = Version(specifier.version.replace(".*", ""))
        except InvalidVersion:
            continue
        if bound > newest_known:
            candidates.append(str(bound))
    return any(allowed.contains(c, prereleases=True) for c in candidates)


def installed_version() -> str | None:
    """The installed peft's version from its metadata (peft itself is never imported)."""
    return installed.version("peft")


# --------------------------------------------------------------------------- LoraConfig keywords


def lora_fields(version: str) -> dict[str, object]:
    """Every ``LoraConfig`` keyword of a release (inherited ones included) -> its default.

    A default that is not a JSON literal is ``{"expr": "<source>"}`` (e.g. ``dict()`` for
    ``field(default_factory=dict)``).
    """
    return copy.deepcopy(_data().fields[_at(version)])


def field_default(name: str, version: str) -> object:
    """The default of one keyword in a release; ``KeyError`` when the release lacks it."""
    return copy.deepcopy(_data().fields[_at(version)][name])


def field_annotation(name: str, version: str) -> str | None:
    """The keyword's annotation as written in that release, or None when it lacks the keyword."""
    return _data().annotations[_at(version)].get(name)


def all_field_names() -> set[str]:
    """Every keyword any release has had."""
    return set(_data().raw["fields"])


# The first release whose ``PeftConfig.from_peft_type`` catches ``unexpected keyword argument``,
# drops those keys with a warning and builds the config from the rest; 0.13.2 and earlier let
# the TypeError out (peft/config.py in the 0.13.2 and 0.14.0 wheels;
# tests/test_adapter_config_peft.py loads such a config with the installed peft).
DROPS_UNKNOWN_CONFIG_KEYS_SINCE = "0.14.0"


def drops_unknown_config_keys(version: str) -> bool:
    """Whether loading a saved config with keys the release lacks only warns (else TypeError)."""
    return Version(version) >= Version(DROPS_UNKNOWN_CONFIG_KEYS_SINCE)


def field_span(name: str) -> tuple[str, str] | None:
    """(first, last) release having the keyword; None if none ever had it."""
    record = _data().raw["fields"].get(name)
    if record is None:
        return None
    return record["spans"][0][0], record["spans"][-1][1]


# --------------------------------------------------------------------------- option values


def option_values(option: str, version: str) -> dict | None:
    """The raw record of what a release does with an option's values; None if it lacks the option.

    ``init_lora_weights``: ``bool``, ``exact``, ``casefold`` (compared after ``.lower()``),
    ``prefix`` (``{prefix: {}}`` any rest, ``{"split_int": sep}`` rest must be ``sep<int>``),
    ``literal`` (the annotation's ``Literal``), ``any_string``. ``bias``: ``exact``, ``suffix``,
    ``literal``. ``task_type``: ``members`` (name -> value), ``checked`` (others rejected).
    """
    return copy.deepcopy(_records(option)[_at(version)])


def _recognizes(option: str, value: object, record: dict | None) -> bool:
    if record is None:
        return False
    if option == "task_type":
        return value is None or (isinstance(value, str) and value in record["members"].values())
    if option == "bias":
        return isinstance(value, str) and (value in record["exact"]
                                           or any(value.endswith(s) for s in record["suffix"]))
    if isinstance(value, bool):
        return record["bool"]
    if not isinstance(value, str):
        return False
    for prefix, rule in record["prefix"].items():
        if value.startswith(prefix):  # peft hands the whole family to one handler
            return not rule or value in record["exact"] or _split_int(value, rule["split_int"])
    return value in record["exact"] or value.lower() in record["casefold"]


def _split_int(value: str, sep: str) -> bool:
    parts = value.split(sep)
    if len(parts) != 2:
        return False
    try:
        int(parts[1])
    except ValueError:
        return False
    return True


def recognizes(option: str, value: object, version: str) -> bool:
    """Whether the release handles this value of the option on purpose."""
    return _recognizes(option, value, option_values(option, version))


def accepts(option: str, value: object, version: str) -> bool:
    """Whether ``LoraConfig(option=value)`` and building the model raise nothing in that release."""
    record = option_values(option, version)
    if _recognizes(option, value, record):
        return True
    if record is None:
        return False
    if option == "task_type":
        return not record["checked"]
    return option == "init_lora_weights" and record["any_string"] and isinstance(value, str)


def option_span(option: str, value: object) -> tuple[str, str] | None:
    """(first, last) release that recognizes the value; None if no release does."""
    hits = [v for v, record in zip(_data().versions, _records(option)) if _recognizes(option, value, record)]
    return (hits[0], hits[-1]) if hits else None


def _records(option: str) -> tuple[dict | None, ...]:
    if option not in OPTIONS:
        raise ValueError(f"unknown option {option!r}; expected one of {', '.join(OPTIONS)}")
    return _data().options[option]


def task_types(version: str) -> dict[str, str]:
    """``TaskType`` members of a release: name -> value."""
    return dict(_data().options["task_type"][_at(version)]["members"])


# --------------------------------------------------------------------------- target modules


def all_linear_since() -> str:
    """The first release that expands ``target_modules="all-linear"``."""
    data = _data()
    return next(v for v, record in zip(data.versions, data.all_linear) if record is not None)


def is_all_linear(value: str, version: str) -> bool:
    """Whether this ``target_modules`` string is the all-linear shorthand in that release."""
    record = _data().all_linear[_at(version)]
    if record is None:
        return False
    return (value.lower() if record["casefold"] else value) == record["value"]


def default_target_modules(model_type: str, version: str | None = None) -> list[str] | str | None:
    """peft's fallback ``target_modules`` for a model type (a str is a regex); None: not in the table."""
    values = _data().targets.get(model_type)
    if values is None:
        return None
    return copy.deepcopy(values[_at(version or newest())])


def not_found_error(version: str) -> str | None:
    """Class name raised when ``target_modules`` matches nothing; None: the release raises nothing."""
    return _data().not_found[_at(version)]


# --------------------------------------------------------------------------- validation


def config_raises(version: str, fields: Iterable[str]) -> str | None:
    """The exception ``LoraConfig()`` raises in ``__post_init__`` on a test of exactly these
    fields (``{"lora_bias", "use_dora"}`` -> ``"ValueError"``); None: it tests no such thing."""
    wanted = sorted(fields)
    for check in _data().config_checks[_at(version)] or ():
        if check["fields"] == wanted:
            return check["raises"]
    return None


def build_checks(version: str) -> dict:
    """What building the model does with values the config let through: ``rank_not_positive``
    (``"raises"`` or ``"no_adapter"``), ``dropout_above`` (no dropout layer at or below it),
    ``unknown_init_raises``, ``target_regex`` (the ``re`` function a ``target_modules`` string
    is matched with, None: not a regex), ``unknown_task_type`` (what ``get_peft_model`` does:
    ``"PeftModel"``, a plain PeftModel, or ``"KeyError"``)."""
    return dict(_data().build_checks[_at(version)])


def layer_kinds(version: str | None = None) -> frozenset[str]:
    """The module kinds (``Linear``, ``Conv1D``, ``Conv3d``, ...) LoRA can wrap in ``version``
    (None: the newest release; a version between releases: the release before it); a matched
    module of another kind makes ``get_peft_model`` raise "Target module ... is not supported"."""
    data = _data()
    if version is None:
        return data.layer_kinds[-1]
    try:
        wanted = Version(version)
    except InvalidVersion:
        return data.layer_kinds[-1]
    at = max((i for v, i in data.index.items() if v <= wanted), default=0)
    return data.layer_kinds[at]


def layer_kind_since(kind: str) -> str | None:
    """The first release whose LoRA wraps modules of ``kind``; None: none does."""
    data = _data()
    return next((v for v, kinds in zip(data.versions, data.layer_kinds) if kind in kinds), None)


# Public attributes of the bases outside peft that LoraConfig inherits (transformers'
# PushToHubMixin, 4.x and 5.x; ``save_pretrained`` is peft's own override).
_OUTSIDE_ATTRIBUTES = {"PushToHubMixin": frozenset({"push_to_hub", "save_pretrained"})}


def config_attributes(version: str) -> frozenset[str] | None:
    """Every attribute a ``LoraConfig`` instance of the release has (fields, methods,
    properties, attributes peft sets on it); None when that cannot be known (a base outside
    peft not described here, or ``__getattr__``)."""
    record = _data().attributes[_at(version)]
    if record is None or record["getattr_hook"] or any(b not in _OUTSIDE_ATTRIBUTES for b in record["outside_peft"]):
        return None
    names = set(record["names"])
    for base in record["outside_peft"]:
        names |= _OUTSIDE_ATTRIBUTES[base]
    return frozenset(names)
