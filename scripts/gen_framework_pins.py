"""Generate lint_rules/knowledge/data/framework_pins.json: the peft each axolotl and LLaMA-Factory release requires.

A trainer YAML runs with the peft its framework release installs. For every release of
``axolotl``, ``llamafactory`` and ``llmtuner`` (LLaMA-Factory's name on PyPI up to 0.7.1, kept
as its own package) the script reads the release's requirements from the files on PyPI, in this order:

- a wheel's ``*.dist-info/METADATA`` (``Requires-Dist``): what pip installs;
- an sdist's ``PKG-INFO`` when it lists ``Requires-Dist`` and does not mark it ``Dynamic``
  (core metadata 2.2 and later);
- else the sdist's ``*.egg-info/requires.txt``: the ``install_requires`` setuptools recorded
  when the sdist was built (the lines before any ``[extra]``/``[:marker]`` section).

PyPI's JSON API gives ``requires_dist`` only for a release whose uploaded metadata had it
(null for most of axolotl's sdists, whose ``setup.py`` reads ``requirements.txt``), so the
files are read instead. Each archive is downloaded once (its sha256 checked against PyPI's)
into ``--dists``.

Per release the file records ``peft``: the specifier (``"==0.14.0"``; ``""`` for a bare
``peft``), or null when the release does not require peft at all or its requirements cannot
be read (the lint side then takes nothing from it), and ``from``: the file it was read from.
The output is deterministic (sorted keys, releases in version order, no wall-clock time);
``--check`` writes nothing and fails when the file would change.

CI does not run this script; rerun it by hand when a framework releases, then commit the JSON.
"""
from __future__ import annotations

import argparse
import email.parser
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
INDEX = "https://pypi.org/pypi/{name}/json"
PACKAGES = ("axolotl", "llamafactory", "llmtuner")  # LLaMA-Factory was llmtuner up to 0.7.1
DEFAULT_DISTS = ROOT / ".scratch" / "framework-dists"
DEFAULT_OUTPUT = ROOT / "lint_rules" / "knowledge" / "data" / "framework_pins.json"


def load_index(name: str) -> dict:
    with urllib.request.urlopen(INDEX.format(name=name), timeout=60) as response:
        return json.load(response)


def pick_file(files: list[dict]) -> dict | None:
    """The file whose metadata is read: a wheel (the first by name) else the sdist."""
    wheels = sorted((f for f in files if f["packagetype"] == "bdist_wheel"), key=lambda f: f["filename"])
    sdists = [f for f in files if f["packagetype"] == "sdist" and f["filename"].endswith((".tar.gz", ".zip"))]
    return (wheels + sdists)[0] if wheels or sdists else None


def fetch(entry: dict, index_url: str, folder: Path) -> bytes:
    """The file's bytes (downloaded when missing), its sha256 checked against PyPI's."""
    path = folder / entry["filename"]
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"downloading {entry['filename']}", file=sys.stderr)
        with urllib.request.urlopen(urljoin(index_url, entry["url"]), timeout=300) as response:
            data = response.read()
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["digests"]["sha256"]:
        raise SystemExit(f"{path}: sha256 {digest} does not match PyPI's {entry['digests']['sha256']}")
    return data


def _members(filename: str, data: bytes) -> dict[str, bytes]:
    """The archive's metadata files by name (METADATA, PKG-INFO, requires.txt)."""
    wanted = ("METADATA", "PKG-INFO", "requires.txt")
    found: dict[str, bytes] = {}
    if filename.endswith((".whl", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if name.rsplit("/", 1)[-1] in wanted:
                    found[name] = archive.read(name)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                if member.isfile() and member.name.rsplit("/", 1)[-1] in wanted:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read()
    return found


def _unconditional(requirements: list[str]) -> list[Requirement]:
    """The requirements that hold whatever the extras (markers on the platform are kept)."""
    kept = []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        kept.append(requirement)
    return kept


def requirements(filename: str, data: bytes) -> tuple[list[Requirement], str] | None:
    """The release's install requirements and the file they were read from; None: not readable."""
    members = _members(filename, data)
    by_depth = sorted(members, key=lambda name: (name.count("/"), name))
    for name in by_depth:
        base = name.rsplit("/", 1)[-1]
        if base == "METADATA" and name.count("/") == 1 and name.split("/")[0].endswith(".dist-info"):
            message = email.parser.BytesParser().parsebytes(members[name])
            return _unconditional(message.get_all("Requires-Dist") or []), "METADATA"
    for name in by_depth:
        if name.rsplit("/", 1)[-1] == "PKG-INFO" and name.count("/") == 1:
            message = email.parser.BytesParser().parsebytes(members[name])
            dynamic = {value.lower() for value in message.get_all("Dynamic") or []}
            listed = message.get_all("Requires-Dist")
            if listed and "requires-dist" not in dynamic:
                return _unconditional(listed), "PKG-INFO"
    for name in by_depth:
        if name.endswith(".egg-info/requires.txt"):
            lines = []
            for line in members[name].decode("utf-8").splitlines():
                if line.strip().startswith("["):
                    break  # an extra's or a marker's section
                if line.strip():
                    lines.append(line.strip())
            return _unconditional(lines), "egg-info/requires.txt"
    return None


def peft_pin(found: tuple[list[Requirement], str] | None) -> dict:
    """``{"peft": specifier or null, "from": file}`` of one release."""
    if found is None:
        return {"peft": None, "from": None}
    listed, where = found
    specs = [str(r.specifier) for r in listed if canonicalize_name(r.name) == "peft" and not r.url]
    if not specs:
        return {"peft": None, "from": where}
    return {"peft": ",".join(s for s in specs if s), "from": where}


def collect(dists: Path) -> dict:
    packages: dict[str, dict] = {}
    for name in PACKAGES:
        index = load_index(name)
        releases: dict[str, dict] = {}
        for version, files in index["releases"].items():
            try:
                Version(version)
            except InvalidVersion:
                continue
            entry = pick_file(files)
            if entry is None:
                continue
            data = fetch(entry, INDEX.format(name=name), dists)
            releases[version] = {"file": entry["filename"], **peft_pin(requirements(entry["filename"], data))}
        packages[name] = {v: releases[v] for v in sorted(releases, key=Version)}
    return {
        "source": {"generator": "scripts/gen_framework_pins.py",
                   "index": INDEX.format(name="<name>"),
                   "note": "peft: the specifier each release requires (\"\": any version; null: none read). "
                           "from: the file of the release it was read from."},
        "packages": packages,
    }


def render(data: dict) -> str:
    """One release per line, keys sorted, releases in version order (as ``collect`` lists them)."""
    lines = ["{", f' "source": {json.dumps(data["source"], sort_keys=True)},', ' "packages": {']
    packages = list(data["packages"].items())
    for i, (name, releases) in enumerate(packages):
        lines.append(f"  {json.dumps(name)}: {{")
        items = list(releases.items())
        for j, (version, pin) in enumerate(items):
            lines.append(f"   {json.dumps(version)}: {json.dumps(pin, sort_keys=True)}" + ("," if j < len(items) - 1 else ""))
        lines.append("  }" + ("," if i < len(packages) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dists", type=Path, default=DEFAULT_DISTS,
                        help="download cache (default: .scratch/framework-dists)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON file to write (default: lint_rules/knowledge/data/framework_pins.json)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    text = render(collect(args.dists))
    if args.check:
        same = args.output.exists() and args.output.read_text() == text
        print(f"{args.output}: {'up to date' if same else 'would change'}", file=sys.stderr)
        return 0 if same else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
