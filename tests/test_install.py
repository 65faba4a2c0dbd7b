"""The install story: the sdist and wheel `make dist` builds, installed into a fresh venv without
torch, run `lora-lint` and the pytest plugin (package data included); the README's pre-commit
snippet works as written, at its `rev`.

Slow (a build and a venv each, dependencies from the package index): about a minute in all.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fresh_install import ROOT, clean_env, copy_source, fresh_venv, run

pytestmark = pytest.mark.slow

SEED = (ROOT / "examples" / "seed_gpt2.py").read_text("utf-8")
# LORA001's explanation lists GPT-2's modules: they come from the architecture data (package data).
GPT2_MODULES = "targetable modules: wte, wpe, c_attn, c_proj, c_fc"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[Path, Path, str]:
    """(sdist, wheel, build log): `python -m build` makes the sdist, then the wheel from it."""
    work = tmp_path_factory.mktemp("dist")
    src = copy_source(work / "src")
    done = run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(src)], cwd=work)
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    return sdist, wheel, done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel and its core dependencies: its bin folder."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("user") / "venv")
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(dist[1])], cwd=bin_dir)
    return bin_dir


@pytest.fixture
def user_project(tmp_path) -> Path:
    """A user's project outside the checkout, holding the GPT-2 mistake."""
    (tmp_path / "train.py").write_text(SEED, "utf-8")
    return tmp_path


def test_build_has_no_license_deprecation_warning(dist):
    log = dist[2]
    assert "Successfully built" in log
    assert not re.search(r"license.*deprecated|deprecated.*license", log, re.I | re.S), log


def test_twine_check_passes(dist):
    done = run([sys.executable, "-m", "twine", "check", "--strict", str(dist[0]), str(dist[1])], cwd=ROOT)
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_wheel_holds_every_knowledge_file_and_the_license_metadata(dist):
    data = ROOT / "lint_rules" / "knowledge" / "data"
    expected = {f"lint_rules/knowledge/data/{p.relative_to(data).as_posix()}" for p in data.rglob("*.json")}
    assert len(expected) >= 5
    with zipfile.ZipFile(dist[1]) as wheel:
        names = set(wheel.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = wheel.read(metadata).decode()
    assert expected <= names, sorted(expected - names)
    assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Requires-Dist: torch" not in meta.split("Provides-Extra: models")[0]  # torch only in [models]


def test_installed_wheel_has_no_torch_and_runs_from_its_own_site_packages(installed, user_project):
    python = str(installed / "python")
    where = run([python, "-c", "import lint_rules, pytest_lora; print(lint_rules.__file__)"], cwd=user_project)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout
    for heavy in ("torch", "transformers", "peft"):
        missing = run([python, "-c", f"import {heavy}"], cwd=user_project, check=False)
        assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr


def test_installed_lora_lint_finds_the_mistake_with_its_packaged_data(installed, user_project):
    env = clean_env(XDG_CACHE_HOME=str(user_project / ".cache"))
    done = run([str(installed / "lora-lint"), "--no-cache", "train.py"], cwd=user_project, env=env, check=False)
    assert done.returncode == 1, done.stderr
    assert "train.py:13:20: LORA001" in done.stdout and GPT2_MODULES in done.stdout
    modules = run([str(installed / "lora-lint"), "modules", "gpt2"], cwd=user_project, env=env)
    assert "c_attn" in modules.stdout
    rules = run([str(installed / "lora-lint"), "rules"], cwd=user_project, env=env)
    assert "LORA001" in rules.stdout and "LORA301" in rules.stdout


def test_installed_plugin_runs_lora_check(installed, user_project):
    env = clean_env(XDG_CACHE_HOME=str(user_project / ".cache"))
    done = run([str(installed / "python"), "-m", "pytest", "--lora-check", "-p", "no:cacheprovider"],
               cwd=user_project, env=env, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "train.py::lora-check" in out and "LORA001" in out and GPT2_MODULES in out
    assert "1 failed" in out


# -- the README's pre-commit snippet -------------------------------------------------------------

def _pre_commit_snippets() -> list[str]:
    found = []
    for page in (ROOT / "README.md", ROOT / "docs" / "lora-lint.md"):
        found += re.findall(r"```yaml\n(.*?)```", page.read_text("utf-8"), re.S)
    return [block for block in found if "- repo:" in block]


def test_pre_commit_snippets_agree_and_name_a_full_commit():
    snippets = _pre_commit_snippets()
    assert len(snippets) >= 2 and len(set(snippets)) == 1  # README and docs/lora-lint.md
    rev = re.search(r"^\s*rev: (\S+)$", snippets[0], re.M).group(1)
    assert re.fullmatch(r"[0-9a-f]{40}", rev), rev


def _history_has(rev: str) -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    return subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT,
                          capture_output=True).returncode == 0


def test_pre_commit_snippet_works_at_its_rev(tmp_path):
    """pre-commit clones the repository at `rev` and installs it; only the URL is replaced by this
    checkout (the same history), since tests stay offline."""
    snippet = _pre_commit_snippets()[0]
    rev = re.search(r"^\s*rev: (\S+)$", snippet, re.M).group(1)
    if not _history_has(rev):
        pytest.skip(f"this checkout has no git history holding {rev} (a shallow clone or an sdist)")
    config = re.sub(r"(- repo: )\S+", lambda m: m.group(1) + str(ROOT), snippet)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".pre-commit-config.yaml").write_text("repos:\n" + config, "utf-8")
    (project / "train.py").write_text(SEED, "utf-8")
    (project / "clean.py").write_text("print('no peft here')\n", "utf-8")
    env = clean_env(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), XDG_CACHE_HOME=str(tmp_path / ".cache"),
                    GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    (tmp_path / "gitconfig").write_text("[user]\n\tname = t\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n")
    run(["git", "init", "-q"], cwd=project, env=env)
    run(["git", "add", "."], cwd=project, env=env)
    pre_commit = [sys.executable, "-m", "pre_commit"]
    done = run([*pre_commit, "run", "--files", "train.py"], cwd=project, env=env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lora-lint" in done.stdout and "Failed" in done.stdout
    assert "train.py:13:20: LORA001" in done.stdout and GPT2_MODULES in done.stdout
    clean = run([*pre_commit, "run", "--files", "clean.py"], cwd=project, env=env, check=False)
    assert clean.returncode == 0 and "Passed" in clean.stdout, clean.stdout + clean.stderr
