"""A cold run reads each file under the real path discovery found for it: each folder is resolved
once, not every folder of every file's path (``Path.resolve`` took 0.2 of the 0.8 s CPU that
reading transformers' 2,912 files cost)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lint_rules import runner
from lint_rules.cli import main

CALL = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16)\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for folder in ("a", "b/c", "d"):
        for i in range(10):
            path = root / folder / f"m{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(CALL if i % 2 else "x = 1\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "far.py").write_text(CALL)
    (root / "linked").symlink_to(root / "b")  # a folder reached through a link
    (root / "far.py").symlink_to(tmp_path / "elsewhere" / "far.py")  # a file that is a link
    (root / "pyproject.toml").write_text("[tool.lora-lint]\n")
    return root


def _read(monkeypatch: pytest.MonkeyPatch, tree: Path) -> tuple[list[runner.Task], int]:
    seen: list[runner.Task] = []
    resolved = 0
    real_resolve, real_run = Path.resolve, runner.run

    def resolve(self: Path, strict: bool = False) -> Path:
        nonlocal resolved
        resolved += 1
        return real_resolve(self, strict)

    def run(tasks, settings, **kwargs):
        seen.extend(t for t in tasks if isinstance(t, runner.Task))
        return real_run(tasks, settings, **kwargs)

    monkeypatch.setattr(Path, "resolve", resolve)
    monkeypatch.setattr(runner, "run", run)
    monkeypatch.chdir(tree)
    main(["--no-cache", "--exit-zero", "-q", "--jobs", "1", "."])
    return seen, resolved


def test_each_file_is_read_under_its_real_path_without_resolving_it_again(tree, monkeypatch, capsys):
    tasks, resolved = _read(monkeypatch, tree)
    assert len(tasks) == 31  # linked/ leads to b/'s files: read once
    assert sorted(t.path for t in tasks) == sorted(str(Path(os.path.realpath(t.given))) for t in tasks)
    assert str(tree.parent / "elsewhere" / "far.py") in {t.path for t in tasks}
    assert resolved < len(tasks), f"{resolved} resolutions for {len(tasks)} files"  # settings, folders: not files
