"""A warm run (issue 7's warm row): a tree whose every file passed and is unchanged is answered
from the stored settings, one walk and one ``stat`` per file, importing nothing else; whatever
changed is still seen. Runs are fresh ``python -S`` processes, as a regular install runs (the
editable install's ``.pth`` finder would import pathlib and typing before lora-lint starts)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from lint_rules.cache import RACY_NS, save_signed

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ('from peft import LoraConfig\n\n'
         'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")\n')
TYPO = CLEAN.replace("lora_alpha", "lora_alhpa")  # LORA003
# what a warm run must not import: the parser, the rules, settings resolution, reporting, and the
# standard modules they bring (each costs milliseconds of a run that does nothing else)
UNWANTED = (
    "argparse", "pathlib", "typing", "dataclasses", "inspect", "json", "hashlib", "hmac", "re", "contextlib",
    "tempfile", "shutil", "libcst", "packaging", "tomllib", "pathspec", "yaml",
    "lint_rules.config", "lint_rules.catalog", "lint_rules.rule", "lint_rules.runner", "lint_rules.violation",
    "lint_rules.prefilter", "lint_rules.engine", "lint_rules.output.concise", "lint_rules.gitignore",
    "lint_rules.knowledge", "lint_rules.installed", "lint_rules.project",
)
PROBE = """
import sys
from lint_rules.cli import main
code = main(sys.argv[1:])
print(code, sorted(m for m in {unwanted!r} if m in sys.modules))
"""


def lint(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``lora-lint ARGS`` in a fresh ``python -S`` (this checkout and the environment's packages on
    the path), printing its exit status and the unwanted modules it imported."""
    packages = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_CACHE_HOME": str(folder / "user-cache"),
           "HF_HUB_CACHE": str(folder / "hub"), "PYTHONPATH": os.pathsep.join([str(ROOT), *packages])}
    return subprocess.run([sys.executable, "-S", "-c", PROBE.format(unwanted=UNWANTED), *args], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=300)


def settle() -> None:
    """Wait until the files written so far have settled: a file changed within ``RACY_NS`` of its
    read is compared by content next time, not by its stat."""
    time.sleep(RACY_NS / 1e9 + 0.1)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    (tmp_path / "pkg/sub").mkdir(parents=True)
    (tmp_path / "pkg/train.py").write_text(CLEAN)
    (tmp_path / "pkg/sub/plain.py").write_text("print('no peft here')\n")
    (tmp_path / "pkg/sub/notes.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (tmp_path / "README.md").write_text("LoraConfig(r=0)\n")  # not a kind lora-lint reads
    settle()
    return tmp_path


def test_a_warm_run_of_a_cached_tree_imports_none_of_the_rest(tree):
    first = lint(tree, "-q", ".")
    assert first.returncode == 0 and first.stdout.split(" ", 1)[0] == "0", first.stderr
    warm = lint(tree, "-q", ".")
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == "0 []\n"


def test_a_warm_run_rewrites_no_cache_file(tree):
    """Neither the results nor the folder records (``walk-*.marshal``) are written again, once the
    root's own change (the cache folders the first run made in it) has settled."""
    lint(tree, "-q", ".")
    settle()
    lint(tree, "-q", ".")
    stored = sorted((tree / ".lora_lint_cache").rglob("*.marshal"))
    assert [p.name.startswith("walk-") for p in stored] == [False, True]
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in stored]
    assert lint(tree, "-q", ".").stdout == "0 []\n"
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in stored] == before


def test_a_warm_run_of_a_tree_with_gitignore_files_compiles_none(tree):
    """The folder records hold each ``.gitignore``'s digest: once every folder is recorded, the
    files are read and hashed, never compiled (no pathspec)."""
    (tree / ".gitignore").write_text("*.tmp\n")
    (tree / "pkg/.gitignore").write_text("build-output/\n")
    settle()
    lint(tree, "-q", ".")
    settle()  # (the first run made its cache folders in the root)
    lint(tree, "-q", ".")
    assert lint(tree, "-q", ".").stdout == "0 []\n"


def test_a_warm_run_reports_nothing_more_than_the_cold_run(tree):
    cold = lint(tree, ".")
    warm = lint(tree, ".")
    assert cold.stderr == warm.stderr == "All checks passed!\n"
    assert cold.stdout.startswith("0 ") and warm.stdout == "0 []\n"


def test_a_cached_file_with_findings_is_reported_again(tree):
    (tree / "pkg/typo.py").write_text(TYPO)
    settle()
    cold, warm = lint(tree, "-q", "."), lint(tree, "-q", ".")
    *report, status = cold.stdout.splitlines()
    assert report and all(line.startswith("pkg/typo.py:3:") for line in report) and "LORA003" in report[0]
    assert warm.stdout.splitlines()[:-1] == report
    assert status.startswith("1 ") and warm.stdout.splitlines()[-1].startswith("1 ")


def _outside(t: Path) -> Path:
    return t.parent / f"{t.name}-outside.py"


@pytest.mark.parametrize("change, seen", [
    (lambda t: (t / "pkg/train.py").write_text(TYPO), True),  # an edit
    (lambda t: (t / "pkg/sub/new.py").write_text(TYPO), True),  # a new file
    (lambda t: ((t / "pkg/build").mkdir(), (t / "pkg/build/x.py").write_text(TYPO)), False),  # excluded by name
    (lambda t: ((t / "pkg/.gitignore").write_text("sub/\n"), (t / "pkg/sub/y.py").write_text(TYPO)), False),
    (lambda t: ((t / "pkg/.gitignore").write_text("sub/\n!sub/\n"), (t / "pkg/sub/y.py").write_text(TYPO)), True),
    (lambda t: ((t / "pyproject.toml").write_text("[tool.lora-lint]\nexclude = ['sub/']\n"),
                (t / "pkg/sub/y.py").write_text(TYPO)), False),  # a settings change
    (lambda t: ((t / "pkg/link.py").symlink_to(_outside(t)), _outside(t).write_text(TYPO)), True),  # a link out
], ids=["edit", "new", "excluded", "gitignored", "re-included", "settings", "link"])
def test_what_changed_after_a_warm_run_is_seen(tree, change, seen):
    lint(tree, "-q", ".")
    assert lint(tree, "-q", ".").stdout == "0 []\n"
    change(tree)
    after = lint(tree, "-q", ".")
    assert ("LORA003" in after.stdout) is seen, after.stdout + after.stderr


def test_an_excluded_folder_named_on_the_command_line_is_walked_as_before(tree):
    """A folder walked is left out when ``exclude`` matches one of its own parts: the top's parts
    are tested once, each entry's name below it."""
    (tree / "pkg/build/deep").mkdir(parents=True)
    (tree / "pkg/build/deep/x.py").write_text(TYPO)
    assert "LORA003" not in lint(tree, "-q", "pkg/build").stdout
    assert "LORA003" in lint(tree, "-q", "pkg/build/deep/x.py").stdout  # a file named is linted


def _stamp_of(folder: Path, monkeypatch) -> str:
    from lint_rules import code_stamp

    monkeypatch.setattr(code_stamp, "__file__", str(folder / "code_stamp.py"))
    return code_stamp._compute()


def test_the_code_stamp_follows_every_module_and_data_file(tmp_path, monkeypatch):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules/a.py").write_text("A = 1\n")
    (tmp_path / "data.json").write_text("{}")
    first = _stamp_of(tmp_path, monkeypatch)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__/a.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not code")
    assert _stamp_of(tmp_path, monkeypatch) == first  # compiled files and other names do not count
    (tmp_path / "rules/a.py").write_text("A = 2\n")  # same size, a later mtime
    os.utime(tmp_path / "rules/a.py", ns=(time.time_ns() + 10**9,) * 2)
    second = _stamp_of(tmp_path, monkeypatch)
    assert second != first
    (tmp_path / "rules/b.json").write_text("[]")
    assert _stamp_of(tmp_path, monkeypatch) != second


def test_a_stored_settings_record_of_the_wrong_shape_is_resolved_again(tmp_path, monkeypatch):
    """The store is signed, but a record from another layout (or an older lora-lint) must not be
    read as settings: it is resolved again, not a traceback."""
    from lint_rules import cache, catalog, settings_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(cache, "_keys", {})
    monkeypatch.setattr(catalog, "loaded", lambda: False)  # as in a fresh process, where the store is used
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\nexclude = ['gen/']\n")
    stored, fingerprint = settings_cache.load_stored(tmp_path)
    [path] = (tmp_path / "user-cache").rglob("*.marshal")
    record = cache.load_signed(path)
    assert record["fingerprint"] == fingerprint and stored.exclude[-1] == "gen/"
    for bad in ({**record, "settings": {**record["settings"], "root": 3}},
                {**record, "settings": {**record["settings"], "exclude": "gen/"}}, {**record, "fingerprint": None}):
        assert save_signed(path, bad)
        again, other = settings_cache.load_stored(tmp_path)
        assert (again.root, again.exclude, other) == (stored.root, stored.exclude, fingerprint)
