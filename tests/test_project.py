"""The project's declared peft requirement: pyproject, Poetry, setup.cfg, requirements, PEP 723."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lint_rules.errors import ConfigError
from lint_rules.project import detect_inline_requirement, detect_requirement


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_pyproject_dependencies_and_extras(tmp_path):
    write(tmp_path, "pyproject.toml", """
        [project]
        name = "x"
        dependencies = ["torch", "peft>=0.9; python_version >= '3.9'"]
        [project.optional-dependencies]
        train = ["PEFT[torch] <0.14"]
    """)
    spec, where = detect_requirement(tmp_path)
    assert spec == "<0.14,>=0.9"
    assert "pyproject.toml" in where and "[project] dependencies" in where and "train" in where


def test_found_from_a_subfolder_but_not_past_the_project_root(tmp_path):
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndependencies = ["peft==0.10.0"]\n')
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    assert detect_requirement(sub)[0] == "==0.10.0"
    inner = tmp_path / "other"
    write(inner, "setup.py", "")
    assert detect_requirement(inner) is None  # its own project root, without peft


@pytest.mark.parametrize("constraint, expected", [
    ('"^0.9"', "<0.10,>=0.9"),
    ('"^0"', "<1,>=0"),  # Poetry: zeros only -> the last given part is bumped
    ('"^0.0"', "<0.1,>=0.0"),
    ('"^0.0.3"', "<0.0.4,>=0.0.3"),
    ('"^1.2"', "<2,>=1.2"),
    ('"~0.10.1"', "<0.11,>=0.10.1"),
    ('"0.12.0"', "==0.12.0"),
    ('{ version = ">=0.8,<0.13", optional = true }', "<0.13,>=0.8"),
])
def test_poetry(tmp_path, constraint, expected):
    write(tmp_path, "pyproject.toml", f"[tool.poetry.dependencies]\npython = '^3.10'\npeft = {constraint}\n")
    spec, where = detect_requirement(tmp_path)
    assert spec == expected and "[tool.poetry.dependencies]" in where


def test_requirements_with_includes(tmp_path):
    write(tmp_path, "requirements.txt", "-r requirements/base.txt  # shared\ntorch\n")
    write(tmp_path, "requirements/base.txt", "# pins\npeft >= 0.11.0, < 0.15 \\\n   # comment\n-c constraints.txt\n")
    write(tmp_path, "requirements-dev.txt", "pytest\n--requirement=requirements.txt\n")
    spec, where = detect_requirement(tmp_path)
    assert spec == "<0.15,>=0.11.0"
    assert "requirements.txt" in where and "requirements-dev.txt" in where


def test_setup_cfg(tmp_path):
    write(tmp_path, "setup.cfg", """
        [metadata]
        name = x
        [options]
        install_requires =
            transformers
            peft>=0.7  # LoRA
    """)
    spec, where = detect_requirement(tmp_path)
    assert spec == ">=0.7" and "install_requires" in where


@pytest.mark.parametrize("requirement", ["peft", "peft @ git+https://github.com/huggingface/peft", "torch"])
def test_no_declared_range(tmp_path, requirement):
    write(tmp_path, "requirements.txt", requirement + "\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    assert detect_requirement(tmp_path) is None


def test_pep_723_inline_metadata():
    script = textwrap.dedent("""\
        # /// script
        # requires-python = ">=3.10"
        # dependencies = [
        #   "peft>=0.9,<0.12",
        #   "torch",
        # ]
        # ///
        import peft
    """)
    assert detect_inline_requirement(script) == "<0.12,>=0.9"
    assert detect_inline_requirement(script.replace('"peft>=0.9,<0.12"', '"peft"')) is None
    assert detect_inline_requirement("import peft\n") is None
    with pytest.raises(ConfigError, match="not closed"):  # an unclosed block is reported, not ignored
        detect_inline_requirement("# /// script\n# dependencies = [\n")


def test_inline_metadata_narrows_the_checked_range():
    from lint_rules.project import context_for_source
    from lint_rules.rule import RuleContext

    ctx = RuleContext("s.py", ">=0.10", "pyproject.toml", ("0.10.0", "0.21.2"))
    script = '# /// script\n# dependencies = ["peft>=0.8,<0.9"]\n# ///\nimport peft\n'
    narrowed = context_for_source(ctx, script)
    assert narrowed.peft_versions == ("0.8.0", "0.8.1", "0.8.2")
    assert "PEP 723" in narrowed.peft_spec_source
    assert context_for_source(ctx, "import peft\n") is ctx


PEP723_SCRIPT = '''\
# /// script
# dependencies = ["peft>=0.7,<0.9", "torch"]
# ///
from peft import LoraConfig

config = LoraConfig(r=8, lora_alpha=16, use_dora=True)
'''


def test_pep723_metadata_sets_the_peft_range_of_the_script():
    from lint_rules.engine import lint_source

    found = lint_source(PEP723_SCRIPT, filename="train.py", select=["LORA101"])
    assert [v.code for v in found] == ["LORA101"]
    assert "0.9.0" in found[0].message and "PEP 723" in found[0].message


def test_explicit_target_peft_version_beats_pep723_metadata():
    from lint_rules.engine import lint_source

    found = lint_source(PEP723_SCRIPT, filename="train.py", select=["LORA101"],
                        settings={"target-peft-version": ">=0.10"})
    assert found == []


@pytest.fixture
def no_installed_transformers(monkeypatch):
    """As in a pre-commit environment: no transformers installed, so nothing picks the data."""
    from lint_rules.analysis import model
    from lint_rules.knowledge import architectures

    monkeypatch.setattr(architectures, "installed_transformers", lambda: None)
    model._architectures.cache_clear()
    yield
    model._architectures.cache_clear()


@pytest.mark.parametrize("declared, flagged", [(">=4.40,<5", False), (">=5", True), (None, False)])
def test_declared_transformers_choose_the_architecture_data(tmp_path, monkeypatch, no_installed_transformers,
                                                            declared, flagged):
    """GPT-NeoX's output layer is `embed_out` in transformers 4.x and `lm_head` in 5.x."""
    from lint_rules.cli import main

    deps = ['"peft>=0.10"'] + ([f'"transformers{declared}"'] if declared else [])
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\nversion = "0"\ndependencies = [{", ".join(deps)}]\n'
        '[tool.lora-lint]\nmodel = "EleutherAI/pythia-70m"\n')
    (tmp_path / "train.py").write_text("from peft import LoraConfig\n\nLoraConfig(target_modules=['embed_out'])\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--select", "LORA001", "train.py"]) == (1 if flagged else 0)


def test_pep723_transformers_requirement_applies_to_the_script(no_installed_transformers):
    from lint_rules.engine import lint_source

    script = ("from peft import LoraConfig\n\nLoraConfig(target_modules=['embed_out'])\n")
    pinned = '# /// script\n# dependencies = ["transformers>=5"]\n# ///\n' + script
    settings = {"model": "EleutherAI/pythia-70m"}
    assert lint_source(script, filename="s.py", select=["LORA001"], settings=settings) == []
    assert [v.code for v in lint_source(pinned, filename="s.py", select=["LORA001"], settings=settings)] == ["LORA001"]
    explicit = {**settings, "target-transformers-version": ">=4.40"}  # beats the script's metadata
    assert lint_source(pinned, filename="s.py", select=["LORA001"], settings=explicit) == []


def _settings(root):
    from lint_rules import config

    return config.resolve([], root=root)


def test_a_peft_newer_than_the_data_is_checked_as_the_newest_release(tmp_path, monkeypatch):
    from lint_rules.knowledge import peft_releases

    newest = peft_releases.newest()
    monkeypatch.setattr(peft_releases, "installed_version", lambda: "99.1.0.dev0")
    assert _settings(tmp_path).peft_versions == (newest,)  # installed from git main, or released later
    write(tmp_path, "requirements.txt", "peft>=99.0\n")
    settings = _settings(tmp_path)
    assert settings.peft_versions == (newest,) and "requirements.txt" in settings.peft_spec_source


@pytest.mark.parametrize("installed, expected", [("0.9.0+cu121", "0.9.0"), ("0.9.0.dev0", "0.8.2"),
                                                 ("0.9.0rc1", "0.8.2"), ("0.9.0.post1", "0.9.0")])
def test_a_local_or_development_install_is_checked_as_the_release_it_contains(tmp_path, monkeypatch,
                                                                              installed, expected):
    from lint_rules.knowledge import peft_releases

    assert "0.8.2" in peft_releases.versions() and "0.8.3" not in peft_releases.versions()
    monkeypatch.setattr(peft_releases, "installed_version", lambda: installed)
    assert _settings(tmp_path).peft_versions == (expected,)


def test_a_requirement_no_release_can_meet_is_still_an_error(tmp_path, monkeypatch):
    from lint_rules.errors import ConfigError

    write(tmp_path, "requirements.txt", "peft>=0.9,<0.9\n")
    with pytest.raises(ConfigError, match="no known peft release"):
        _settings(tmp_path)


def test_a_script_requiring_a_peft_newer_than_the_data_is_checked_as_the_newest_release():
    from lint_rules.knowledge import peft_releases
    from lint_rules.project import context_for_source
    from lint_rules.rule import RuleContext

    ctx = RuleContext("s.py", ">=0.7", "pyproject.toml", ("0.7.0", "0.7.1"))
    script = '# /// script\n# dependencies = ["peft>=99.0"]\n# ///\nimport peft\n'
    assert context_for_source(ctx, script).peft_versions == (peft_releases.newest(),)
