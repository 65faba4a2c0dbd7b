"""``lint_rules.installed.version``: what ``importlib.metadata.version`` says, read from the
metadata folder, with ``importlib.metadata`` itself left for layouts only it reads."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from lint_rules import installed

ROOT = Path(__file__).resolve().parents[1]


def _expected(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@pytest.mark.parametrize("name", ["pytest", "libcst", "packaging", "PyYAML", "pyyaml", "py-yaml", "PYTEST",
                                  "pytest_lora", "pytest-lora", "pytest.lora", "no-such-distribution"])
def test_the_installed_distributions_read_as_importlib_metadata_reads_them(name):
    assert installed.version(name) == _expected(name)


def _dist_info(folder: Path, name: str, metadata_text: str) -> None:
    info = folder / name
    info.mkdir(parents=True)
    (info / "METADATA").write_text(metadata_text)


@pytest.mark.parametrize(("folder_name", "asked"), [
    ("Foo_Bar-1.2.3.dist-info", "foo-bar"),
    ("foo.bar-1.2.3.dist-info", "Foo_Bar"),
    ("foo_bar.dist-info", "foo.bar"),  # no version in the name: the header says it
    ("foo_bar-1.2.3.egg-info", "foo-bar"),
])
def test_a_metadata_folder_on_the_path(tmp_path, monkeypatch, folder_name, asked):
    _dist_info(tmp_path, folder_name, "Metadata-Version: 2.1\nName: foo-bar\nversion:  1.2.3\n\nVersion: 9\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert installed.version(asked) == _expected(asked) == "1.2.3"


def test_the_first_folder_on_the_path_wins(tmp_path, monkeypatch):
    _dist_info(tmp_path / "a", "thing-2.0.dist-info", "Name: thing\nVersion: 2.0\n")
    _dist_info(tmp_path / "b", "thing-1.0.dist-info", "Name: thing\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), str(tmp_path / "a"), str(tmp_path / "b")])
    assert installed.version("thing") == _expected("thing") == "2.0"


def test_layouts_only_importlib_metadata_reads_are_left_to_it(tmp_path, monkeypatch):
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as bundle:
        bundle.writestr("zipped-3.1.dist-info/METADATA", "Name: zipped\nVersion: 3.1\n")
    _dist_info(tmp_path / "plain", "headless-1.0.dist-info", "Name: headless\n\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "bundle.zip"), str(tmp_path / "plain")])
    assert installed.version("zipped") == _expected("zipped") == "3.1"
    assert installed.version("headless") == _expected("headless")  # no Version header: what metadata says


def test_reading_a_version_imports_no_importlib_metadata():
    probe = ("import sys; from lint_rules import installed; "
             "print(installed.version('pytest') is not None, 'importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def _bump(folder: Path, seconds: int) -> None:
    """What installing into ``folder`` does to it (set explicitly: a coarse clock may not tick)."""
    later = folder.stat().st_mtime_ns + seconds * 1_000_000_000
    os.utime(folder, ns=(later, later))


def test_an_answer_is_kept_until_the_path_changes(tmp_path, monkeypatch):
    """The analysis asks for transformers' version several times per parsed file: the folders
    are searched again only when a folder on the path changed (an install, upgrade, removal)."""
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    searched: list[str] = []
    real = installed._search
    monkeypatch.setattr(installed, "_search", lambda wanted: searched.append(wanted) or real(wanted))
    assert [installed.version("late-comer") for _ in range(20)] == [None] * 20
    assert searched == ["late_comer"]
    _dist_info(tmp_path, "late_comer-1.0.dist-info", "Name: late-comer\nVersion: 1.0\n")
    _bump(tmp_path, 1)
    assert installed.version("late-comer") == "1.0"
    shutil.rmtree(tmp_path / "late_comer-1.0.dist-info")
    _dist_info(tmp_path, "late_comer-2.0.dist-info", "Name: late-comer\nVersion: 2.0\n")
    _bump(tmp_path, 2)
    assert [installed.version("late-comer") for _ in range(5)] == ["2.0"] * 5
    assert searched == ["late_comer"] * 3
    monkeypatch.setattr(sys, "path", [str(tmp_path / "elsewhere")])
    assert installed.version("late-comer") is None
