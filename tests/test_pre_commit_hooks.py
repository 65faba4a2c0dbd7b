"""``.pre-commit-hooks.yaml`` checked against the CLI it runs, offline (no pre-commit needed).

pre-commit calls ``<entry> <args> FILE...`` with the staged files whose identify tags match
``types_or``, and skips the hook when none does. These tests check that the manifest names the
real command and options, covers the same files as ``lora-lint .``, and that the entries behave
as the docs say when pre-commit calls them.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from lint_rules.cli import _check_parser, main
from lint_rules.discovery import SUFFIXES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
# identify's tag for each suffix lora-lint lints (identify/extensions.py)
IDENTIFY_TAG = {".py": "python", ".pyi": "pyi", ".ipynb": "jupyter", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
TYPO = 'from peft import LoraConfig\n\nconfig = LoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'


@pytest.fixture(scope="module")
def hooks() -> dict[str, dict]:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(data, list)
    return {hook["id"]: hook for hook in data}


def test_manifest_fields(hooks):
    assert list(hooks) == ["lora-lint", "lora-lint-fix"]
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= hook.keys()
        assert hook["language"] == "python"
        assert hook["require_serial"] is True  # the CLI runs its own worker processes
        assert hook["minimum_pre_commit_version"] == "2.9.2"  # types_or needs >= 2.9.0
        assert hook.get("pass_filenames", True) is True and not hook.get("always_run", False)
        # language: python installs this repo (its core dependencies only); nothing extra
        assert "additional_dependencies" not in hook and not hook.get("args")
        assert "types" not in hook and "files" not in hook


def test_types_or_match_the_files_lora_lint_lints(hooks):
    assert set(IDENTIFY_TAG) == set(SUFFIXES)
    for hook in hooks.values():
        assert sorted(hook["types_or"]) == sorted({IDENTIFY_TAG[s] for s in SUFFIXES})


def test_entries_are_the_console_script_with_valid_options(hooks):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for hook_id, hook in hooks.items():
        command, *options = shlex.split(hook["entry"])
        assert command in scripts
        ns = _check_parser().parse_args(options)
        assert ns.paths == []  # pre-commit appends the file names
        assert ns.force_exclude  # excludes and .gitignore apply to the files pre-commit passes
        assert ns.fix is (hook_id == "lora-lint-fix")
        assert not (ns.unsafe_fixes or ns.diff or ns.exit_zero or ns.no_cache)


def test_manifest_passes_pre_commit_validation():
    clientlib = pytest.importorskip("pre_commit.clientlib")
    clientlib.load_manifest(str(MANIFEST))


def _call(hook: dict, capsys, *files: str):
    """The entry with its file names, as pre-commit runs it (in-process)."""
    code = main([*shlex.split(hook["entry"])[1:], *files])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.lora-lint]\nextend-exclude = ["generated"]\n')
    (tmp_path / "generated").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(True)}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_lint_hook_fails_on_findings_and_passes_clean_or_excluded_files(hooks, project, capsys):
    hook = hooks["lora-lint"]
    (project / "bad.py").write_text(TYPO)
    (project / "bad.ipynb").write_text(_notebook(TYPO))
    (project / "clean.py").write_text("from peft import LoraConfig\n\nconfig = LoraConfig(r=8, lora_alpha=16)\n")
    (project / "generated/bad.py").write_text(TYPO)
    code, output = _call(hook, capsys, "bad.py", "bad.ipynb", "clean.py")
    assert code == 1 and "bad.py:3:" in output and "bad.ipynb:cell 1:3:" in output
    assert _call(hook, capsys, "clean.py")[0] == 0
    assert _call(hook, capsys, "generated/bad.py") == (0, "")  # every file excluded: silent pass
    assert (project / "bad.py").read_text() == TYPO


def test_hooks_check_trainer_yaml_and_adapter_configs_and_pass_other_json_and_yaml(hooks, project, capsys):
    (project / "train.yml").write_text("base_model: gpt2\nadapter: lora\nlora_target_modules: [q_proj]\n")
    (project / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["q_proj"],
                                                            "base_model_name_or_path": "gpt2"}))
    (project / "ci.yaml").write_text("on: push\n")
    (project / "package.json").write_text('{"name": "x"}')
    code, output = _call(hooks["lora-lint"], capsys, "train.yml", "adapter_config.json", "ci.yaml", "package.json")
    assert code == 1 and "train.yml:3:22: LORA001" in output and "adapter_config.json:1:" in output
    assert _call(hooks["lora-lint"], capsys, "ci.yaml", "package.json")[0] == 0


def test_fix_hook_rewrites_files_and_exits_0_when_nothing_is_left(hooks, project, capsys):
    hook = hooks["lora-lint-fix"]
    (project / "bad.py").write_text(TYPO)
    (project / "bad.ipynb").write_text(_notebook(TYPO))
    (project / "generated/bad.py").write_text(TYPO)
    code, _ = _call(hook, capsys, "bad.py", "bad.ipynb", "generated/bad.py")
    assert code == 0  # pre-commit itself fails the hook because files changed
    fixed = TYPO.replace("nit_lora_weights", "init_lora_weights")
    assert (project / "bad.py").read_text() == fixed
    assert (project / "bad.ipynb").read_text() == _notebook(fixed)
    assert (project / "generated/bad.py").read_text() == TYPO
    assert _call(hook, capsys, "bad.py", "bad.ipynb")[0] == 0  # idempotent: nothing to change
    assert (project / "bad.py").read_text() == fixed
