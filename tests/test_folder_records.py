"""Folder records (``lint_rules.folder_records``): a warm run does not list a folder whose own stat
and ``.gitignore`` chain are the recorded ones, and still reports exactly what a run without any
cache reports, whatever changed in the tree.

Each scenario's tree is built and left to settle (every folder older than ``RACY_NS``, so that the
first run records every folder), linted once to fill the caches, changed, then linted again with
the caches and without (``--no-cache``): both reports must be equal, and show the change. The
cache folder is made before the tree settles, so that writing the caches leaves the root's stat
as it was. Runs are fresh ``python -S`` processes, as in ``test_warm_run``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from lint_rules import cache
from lint_rules.cache import RACY_NS

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ('from peft import LoraConfig\n\n'
         'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")\n')
TYPO = CLEAN.replace("lora_alpha", "lora_alhpa")  # LORA003 on line 3
# root reads any folder; a folder whose mode lets nobody read it is refused, as for any other user
PROBE = """
import os, sys
if os.geteuid() == 0:
    _scandir = os.scandir
    def scandir(path="."):
        if not os.stat(path).st_mode & 0o444:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return _scandir(path)
    os.scandir = scandir
from lint_rules.cli import main
sys.exit(main(sys.argv[1:]))
"""


def lint(tree: Path, *args: str) -> tuple[int, list[str]]:
    """``lora-lint -q ARGS`` in a fresh ``python -S``: its exit status and its report lines."""
    packages = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_CACHE_HOME": str(tree.parent / "user-cache"),
           "HF_HUB_CACHE": str(tree.parent / "hub"), "PYTHONPATH": os.pathsep.join([str(ROOT), *packages])}
    done = subprocess.run([sys.executable, "-S", "-c", PROBE, "-q", "-j", "1", *args], cwd=tree,
                          capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout.splitlines() + [f"stderr: {line}" for line in done.stderr.splitlines()]


def records(tree: Path) -> dict[str, tuple]:
    """The folder records the last run kept, by folder relative to the tree."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tree.parent / "user-cache")
    try:
        [path] = (tree / ".lora_lint_cache").rglob("walk-*.marshal")
        stored = cache.load_signed(path)
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    real = str(tree.resolve())
    return {os.path.relpath(folder, real): record for folder, record in stored["folders"].items()}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def base_tree(tree: Path) -> None:
    write(tree / "pyproject.toml", "[tool.lora-lint]\n")
    (tree / ".lora_lint_cache").mkdir()
    write(tree / "pkg/train.py", CLEAN)
    write(tree / "pkg/old.py", TYPO)
    write(tree / "pkg/sub/plain.py", "print('no peft here')\n")
    write(tree / "pkg/deep/er/x.py", TYPO)
    write(tree.parent / "outside/clean.py", CLEAN)  # (outside the project: a symlink's targets)
    write(tree.parent / "outside/typo.py", TYPO)
    (tree.parent / "outside/later.py").mkdir()


def _project(t: Path) -> Path:
    return t / "project"


OVERLAPPING = ("pkg", "pkg/sub", ".", "pkg")
FILE_AND_FOLDER = ("pkg/old.py", "pkg")
# scenario: (what the tree has besides the base, the change, the arguments after the change (the
# run before it takes only those of OVERLAPPING and FILE_AND_FOLDER), a line the report after the
# change must hold (or not, when it starts with "-"))
SCENARIOS = {
    "new file": (None, lambda p: write(p / "pkg/sub/new.py", TYPO), (), "pkg/sub/new.py:3:"),
    "removed file": (None, lambda p: (p / "pkg/old.py").unlink(), (), "-pkg/old.py:3:"),
    "renamed file": (None, lambda p: (p / "pkg/old.py").rename(p / "pkg/renamed.py"), (), "pkg/renamed.py:3:"),
    "new folder with files": (None, lambda p: write(p / "pkg/sub/fresh/more/f.py", TYPO), (),
                              "pkg/sub/fresh/more/f.py:3:"),
    "removed folder": (None, lambda p: shutil.rmtree(p / "pkg/deep"), (), "-pkg/deep/er/x.py:3:"),
    "file replaced by a folder": (None, lambda p: ((p / "pkg/old.py").unlink(), write(p / "pkg/old.py/in.py", TYPO)),
                                  (), "pkg/old.py/in.py:3:"),
    "folder replaced by a file": (lambda p: write(p / "pkg/thing.py/in.py", CLEAN),
                                  lambda p: (shutil.rmtree(p / "pkg/thing.py"), write(p / "pkg/thing.py", TYPO)),
                                  (), "pkg/thing.py:3:"),
    "symlink added": (None, lambda p: (p / "pkg/link.py").symlink_to(p.parent / "outside/typo.py"), (),
                      "pkg/link.py:3:"),
    "symlink retargeted": (lambda p: (p / "pkg/link.py").symlink_to(p.parent / "outside/clean.py"),
                           lambda p: ((p / "pkg/new-link").symlink_to(p.parent / "outside/typo.py"),
                                      (p / "pkg/new-link").rename(p / "pkg/link.py")), (), "pkg/link.py:3:"),
    # the folder holding the link is unchanged: only the kind of what the link points to changed
    "symlink target became a file": (lambda p: (p / "pkg/link.py").symlink_to(p.parent / "outside/later.py"),
                                     lambda p: ((p.parent / "outside/later.py").rmdir(),
                                                write(p.parent / "outside/later.py", TYPO)), (), "pkg/link.py:3:"),
    ".gitignore edited in place (re-included)": (lambda p: write(p / "pkg/.gitignore", "deep/\n"),
                                                 lambda p: write(p / "pkg/.gitignore", "# nothing\n"), (),
                                                 "pkg/deep/er/x.py:3:"),
    ".gitignore edited in place (ignored)": (lambda p: write(p / "pkg/.gitignore", "# nothing\n"),
                                             lambda p: write(p / "pkg/.gitignore", "old.py\n"), (),
                                             "-pkg/old.py:3:"),
    "root .gitignore edited in place": (lambda p: write(p / ".gitignore", "*.tmp\n"),
                                        lambda p: write(p / ".gitignore", "er/\n"), (), "-pkg/deep/er/x.py:3:"),
    "new .gitignore in a deep folder": (None, lambda p: write(p / "pkg/deep/er/.gitignore", "x.py\n"), (),
                                        "-pkg/deep/er/x.py:3:"),
    ".gitignore removed": (lambda p: write(p / "pkg/deep/.gitignore", "er/\n"),
                           lambda p: (p / "pkg/deep/.gitignore").unlink(), (), "pkg/deep/er/x.py:3:"),
    "exclude changed in pyproject": (None, lambda p: write(p / "pyproject.toml",
                                                           "[tool.lora-lint]\nextend-exclude = ['er']\n"),
                                     (), "-pkg/deep/er/x.py:3:"),
    "extend-exclude on the command line": (None, lambda p: None, ("--config", "extend-exclude = ['er']"),
                                           "-pkg/deep/er/x.py:3:"),
    "respect-gitignore off on the command line": (lambda p: write(p / "pkg/.gitignore", "deep/\n"), lambda p: None,
                                                  ("--config", "respect-gitignore = false"), "pkg/deep/er/x.py:3:"),
    "unreadable folder": (None, lambda p: os.chmod(p / "pkg/deep", 0), (),
                          "stderr: error: pkg/deep: cannot read the folder: Permission denied"),
    "a folder given twice and overlapping": (None, lambda p: write(p / "pkg/sub/new.py", TYPO),
                                             OVERLAPPING, "pkg/sub/new.py:3:"),
    "a path given as a file": (None, lambda p: write(p / "pkg/sub/new.py", TYPO), FILE_AND_FOLDER,
                               "pkg/sub/new.py:3:"),
}


@pytest.fixture(scope="module")
def settled_trees(tmp_path_factory) -> dict[str, Path]:
    """One tree per scenario, built and settled once for them all."""
    top = tmp_path_factory.mktemp("folder-records")
    trees = {}
    for number, (name, (prepare, _, _, _)) in enumerate(SCENARIOS.items()):
        trees[name] = project = _project(top / str(number))
        base_tree(project)
        if prepare is not None:
            prepare(project)
    time.sleep(RACY_NS / 1e9 + 0.1)
    return trees


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_warm_run_after_a_change_reports_what_a_run_without_cache_reports(settled_trees, name):
    project = settled_trees[name]
    _, change, args, expected = SCENARIOS[name]
    lint(project, *(args if args in (OVERLAPPING, FILE_AND_FOLDER) else ()))
    assert "pkg/sub" in records(project)  # the listings were recorded
    try:
        change(project)
        warm = lint(project, *args)
        cold = lint(project, *args, "--no-cache")
    finally:
        os.chmod(project / "pkg", 0o755)
        if (project / "pkg/deep").exists():
            os.chmod(project / "pkg/deep", 0o755)
    assert warm == cold
    shown = expected.lstrip("-")
    assert any(line.startswith(shown) for line in warm[1]) is (not expected.startswith("-")), warm


def test_a_gitignore_edited_in_place_leaves_its_folder_s_stat_as_it_was(tmp_path):
    """What the scenarios above rely on: the folder's record is still valid by its stat, so only
    the ``.gitignore``'s own content, in the record's key, tells that its listing changed."""
    write(tmp_path / "pkg/.gitignore", "deep/\n")
    before = os.stat(tmp_path / "pkg")
    write(tmp_path / "pkg/.gitignore", "# nothing\n")
    after = os.stat(tmp_path / "pkg")
    assert (before.st_mtime_ns, before.st_ctime_ns, before.st_ino) == (after.st_mtime_ns, after.st_ctime_ns,
                                                                      after.st_ino)


def test_a_folder_changed_within_the_racy_window_is_listed_again_not_recorded(tmp_path):
    project = _project(tmp_path)
    base_tree(project)
    time.sleep(RACY_NS / 1e9 + 0.1)
    lint(project)
    assert records(project)["pkg/sub"][3] == ("plain.py",)
    write(project / "pkg/sub/new.py", TYPO)
    # pkg/sub's mtime is "now" (a minute ahead, however slow the next run starts): a second change
    # could share it, so the listing is not recorded
    os.utime(project / "pkg/sub", ns=(time.time_ns() + 60 * 10**9,) * 2)
    first = lint(project)
    assert "pkg/sub" not in records(project) and "pkg" in records(project)
    write(project / "pkg/sub/other.py", TYPO)
    second = lint(project)
    assert any(line.startswith("pkg/sub/new.py:3:") for line in first[1])
    assert {"pkg/sub/new.py", "pkg/sub/other.py"} <= {line.split(":")[0] for line in second[1]}


def test_the_records_of_a_removed_folder_go_and_nothing_changed_writes_nothing(tmp_path):
    project = _project(tmp_path)
    base_tree(project)
    time.sleep(RACY_NS / 1e9 + 0.1)
    lint(project)
    [store] = (project / ".lora_lint_cache").rglob("walk-*.marshal")
    before = store.stat()
    lint(project)
    after = store.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert {"pkg/deep", "pkg/deep/er"} <= set(records(project))
    shutil.rmtree(project / "pkg/deep")
    lint(project)
    assert not {"pkg/deep", "pkg/deep/er"} & set(records(project))
