"""The peft each axolotl and LLaMA-Factory release requires, read from ``data/framework_pins.json``.

The JSON is generated from the releases' metadata on PyPI by ``scripts/gen_framework_pins.py``.
A trainer YAML runs with the peft its framework installs: ``peft_allowed("axolotl", "==0.6.0")``
gives the peft releases that the axolotl releases in that range allow between them. Standard
library and ``packaging`` only, loaded once on first use.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import peft_releases

DATA = Path(__file__).with_name("data") / "framework_pins.json"
# a trainer YAML's framework (trainer_yaml.FRAMEWORKS) -> its package names on PyPI
PACKAGES = {"axolotl": ("axolotl",), "llamafactory": ("llamafactory", "llmtuner")}


@dataclass(frozen=True)
class Allowed:
    """What the framework releases in a declared range require of peft."""

    package: str
    releases: tuple[str, ...]  # the package's releases in the range, ascending
    pins: tuple[str, ...]  # their distinct peft specifiers, in release order ("" for a bare peft)
    peft_versions: tuple[str, ...]  # the known peft releases any of them allows, ascending

    def describe(self) -> str:
        """``its release 0.6.0 requires peft==0.14.0``: what the declaration brings."""
        which = f"its release {self.releases[0]}" if len(self.releases) == 1 else \
            f"its releases {self.releases[0]} to {self.releases[-1]}"
        wanted = " or ".join(f"peft{pin}" if pin else "any peft" for pin in self.pins)
        return f"{which} require{'s' * (len(self.releases) == 1)} {wanted}"


@lru_cache(maxsize=1)
def _packages() -> dict[str, dict[str, dict]]:
    return json.loads(DATA.read_text(encoding="utf-8"))["packages"]


def releases(package: str) -> dict[str, str | None]:
    """Each recorded release of ``package`` and the peft specifier it requires (None: unknown)."""
    return {version: entry["peft"] for version, entry in _packages().get(package, {}).items()}


def peft_allowed(package: str, spec: str) -> Allowed | None:
    """The peft the releases of ``package`` matching ``spec`` require; None when that is not
    known: no recorded release matches (a newer one, a typo), or one of them declares no peft
    the data could read."""
    known = releases(package)
    try:
        wanted = SpecifierSet(spec)
        matching = list(wanted.filter(known, prereleases=None))
    except (InvalidSpecifier, InvalidVersion):
        return None
    matching.sort(key=Version)
    required = [pin for v in matching if (pin := known[v]) is not None]
    if not matching or len(required) != len(matching):
        return None
    pins = tuple(dict.fromkeys(required))
    allowed: set[str] = set()
    for pin in pins:
        try:
            found = peft_releases.versions_in(pin)
        except (InvalidSpecifier, ValueError):
            return None
        if not found and peft_releases.allows_newer(pin):
            found = [peft_releases.newest()]
        allowed.update(found)
    if not allowed:
        return None
    return Allowed(package, tuple(matching), pins, tuple(sorted(allowed, key=Version)))
