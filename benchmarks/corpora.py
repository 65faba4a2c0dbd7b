"""The code the benchmarks lint: real source distributions at pinned versions, fetched from the
package index with pip and unpacked once under ``.bench-cache/``, plus the generated scaling cases.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache"
PINS = {"transformers": "5.24.0", "peft": "0.21.2", "trl": "1.16.0"}  # transformers/peft as in constraints.txt
BIG_FILE_BYTES = 5_000_000


def sdist(name: str) -> Path:
    """The unpacked source distribution of ``name`` at its pinned version."""
    version = PINS[name]
    folder = CACHE / "src" / f"{name}-{version}"
    if folder.is_dir():
        return folder
    downloads = CACHE / "sdists"
    archive = downloads / f"{name}-{version}.tar.gz"
    if not archive.exists():
        downloads.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "-d", str(downloads), f"{name}=={version}"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder.parent, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return folder


def transformers_source() -> Path:
    return sdist("transformers") / "src"


def peft_heavy() -> list[Path]:
    """peft's package and trl's (a trainer library built on peft)."""
    return [sdist("peft") / "src", sdist("trl") / "trl"]


def peft_whole() -> Path:
    """peft's source distribution: the package and its test suite."""
    return sdist("peft")


def quadratic_file(folder: Path, functions: int) -> Path:
    """``functions`` functions, each holding ``LoraConfig(r=i, target_modules=['c_attn'])``."""
    body = "".join(f"\n\ndef config_{i}():\n    return LoraConfig(r={i}, target_modules=['c_attn'])\n"
                   for i in range(1, functions + 1))
    path = folder / f"configs_{functions}.py"
    path.write_text("from peft import LoraConfig\n" + body)
    return path


def big_file(folder: Path) -> Path:
    """peft's own ``tests/test_custom_models.py`` (real, config-heavy test code) repeated to 5 MB."""
    text = (peft_whole() / "tests" / "test_custom_models.py").read_text(encoding="utf-8")
    path = folder / "big_test_file.py"
    path.write_text("\n".join([text] * (BIG_FILE_BYTES // len(text) + 1)))
    return path


def python_files(paths: list[Path]) -> list[Path]:
    return sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.py")))
