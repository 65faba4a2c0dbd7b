"""The peft each axolotl / LLaMA-Factory release requires (issue 12): the committed data against
facts read by hand from PyPI, the generator's reading of release files, and a trainer YAML checked
against the peft range of the framework release the project declares."""
from __future__ import annotations

import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from cli_run import lint
from lint_rules.knowledge import framework_pins

ROOT = Path(__file__).resolve().parent.parent

# Read by hand (2026-11-29): axolotl 0.6.0's sdist (requirements.txt and src/axolotl.egg-info/requires.txt:
# `peft==0.14.0`); llamafactory 0.9.0's wheel METADATA (`Requires-Dist: peft <=0.12.0,>=0.11.1`);
# `requires_dist` of https://pypi.org/pypi/<name>/json for the newest releases: axolotl 0.21.0
# `peft==0.21.2`, llamafactory 0.9.5 `peft<=0.18.1,>=0.18.0`, llmtuner 0.7.1 `peft>=0.10.0`.
FACTS = [("axolotl", "0.6.0", "==0.14.0"), ("axolotl", "0.21.0", "==0.21.2"),
         ("llamafactory", "0.9.0", "<=0.12.0,>=0.11.1"), ("llamafactory", "0.9.5", "<=0.18.1,>=0.18.0"),
         ("llmtuner", "0.7.1", ">=0.10.0")]


@pytest.mark.parametrize("package, version, pin", FACTS)
def test_recorded_pins_match_the_releases_metadata(package, version, pin):
    assert framework_pins.releases(package)[version] == pin


def test_the_peft_a_declared_range_allows():
    allowed = framework_pins.peft_allowed("axolotl", "==0.6.0")
    assert allowed.peft_versions == ("0.14.0",)
    assert allowed.describe() == "its release 0.6.0 requires peft==0.14.0"
    several = framework_pins.peft_allowed("axolotl", ">=0.5.2,<=0.7")  # 0.5.2: ==0.13.2; 0.6.0, 0.7.0: ==0.14.0
    assert several.peft_versions == ("0.13.2", "0.14.0")
    assert several.describe() == "its releases 0.5.2 to 0.7.0 require peft==0.13.2 or peft==0.14.0"
    assert framework_pins.peft_allowed("llamafactory", "==0.9.0").peft_versions == ("0.11.1", "0.12.0")
    # a release the data does not know (a later one), or a range that is no range: nothing known
    assert framework_pins.peft_allowed("axolotl", ">=99") is None
    assert framework_pins.peft_allowed("axolotl", "not a range") is None


# -- the generator: where a release's requirements are read from -------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("gen_framework_pins", ROOT / "scripts" / "gen_framework_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(metadata: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg-1.0.dist-info/METADATA", metadata)
    return buffer.getvalue()


def _sdist(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_generator_reads_wheels_pkg_info_and_egg_info():
    gen = _generator()
    wheel = _wheel("Metadata-Version: 2.1\nName: pkg\nRequires-Dist: peft (==0.14.0)\n"
                   "Requires-Dist: peft>=0.15; extra == 'new'\n")
    assert gen.peft_pin(gen.requirements("pkg-1.0-py3-none-any.whl", wheel)) == {"peft": "==0.14.0", "from": "METADATA"}
    # an sdist whose PKG-INFO has no Requires-Dist (setup.py read requirements.txt): setuptools' record of it
    sdist = _sdist({"pkg-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: pkg\n",
                    "pkg-1.0/src/pkg.egg-info/requires.txt": "torch\npeft==0.13.2\n\n[deepspeed]\npeft==0.9\n"})
    assert gen.peft_pin(gen.requirements("pkg-1.0.tar.gz", sdist)) == {"peft": "==0.13.2",
                                                                       "from": "egg-info/requires.txt"}
    listed = _sdist({"pkg-1.0/PKG-INFO": "Metadata-Version: 2.2\nName: pkg\nRequires-Dist: peft>=0.10\n"})
    assert gen.peft_pin(gen.requirements("pkg-1.0.tar.gz", listed)) == {"peft": ">=0.10", "from": "PKG-INFO"}
    dynamic = _sdist({"pkg-1.0/PKG-INFO": "Metadata-Version: 2.2\nName: pkg\nDynamic: Requires-Dist\n"
                                          "Requires-Dist: peft>=0.10\n"})
    assert gen.peft_pin(gen.requirements("pkg-1.0.tar.gz", dynamic)) == {"peft": None, "from": None}
    no_peft = _wheel("Metadata-Version: 2.1\nName: pkg\nRequires-Dist: torch\n")
    assert gen.peft_pin(gen.requirements("pkg-1.0-py3-none-any.whl", no_peft)) == {"peft": None, "from": "METADATA"}


# -- a trainer YAML checked against the framework release's peft --------------------------------

AXOLOTL = ("base_model: gpt2\nadapter: lora\nlora_target_modules: [c_attn]\n"
           "peft_trainable_token_indices: [1, 2]\n")
LLAMAFACTORY = "model_name_or_path: gpt2\nfinetuning_type: lora\nlora_target: c_attn\nuse_dora: true\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_declared_axolotl_release_sets_the_peft_range_of_its_yaml(project, capsys):
    (project / "train.yaml").write_text(AXOLOTL)
    assert lint(capsys, "train.yaml")[0] == 0  # nothing declared: the newest peft, as before
    (project / "requirements.txt").write_text("axolotl[flash-attn]==0.6.0\n")
    code, out, _ = lint(capsys, "train.yaml", "--output-format", "concise")
    assert code == 1 and out.startswith("train.yaml:4:1: LORA101 `trainable_token_indices` needs peft >= 0.15.0")
    assert ("peft==0.14.0 (from axolotl==0.6.0 in requirements.txt: its release 0.6.0 requires peft==0.14.0)"
            in out and "use an axolotl release that installs peft>=0.15.0, or leave the key out" in out)
    (project / "requirements.txt").write_text("axolotl==0.9.0\n")  # requires peft==0.15.2
    assert lint(capsys, "train.yaml")[0] == 0


def test_the_framework_range_is_intersected_with_the_declared_peft(project, capsys):
    (project / "train.yaml").write_text(AXOLOTL)
    (project / "requirements.txt").write_text("axolotl>=0.5.2,<0.9\npeft>=0.14\n")  # 0.13.2 ... 0.15.1
    code, out, _ = lint(capsys, "train.yaml", "--output-format", "concise")
    assert code == 1 and "LORA101" in out and "peft==0.14.0" in out and "and peft>=0.14 from requirements.txt" in out
    # no release in common (pip could not install both): the declared peft alone, as before
    (project / "requirements.txt").write_text("axolotl==0.6.0\npeft>=0.15\n")
    assert lint(capsys, "train.yaml")[0] == 0


def test_llamafactory_and_its_old_name_llmtuner(project, capsys):
    (project / "train.yaml").write_text(LLAMAFACTORY)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["llmtuner==0.1.0"]\n')
    code, out, _ = lint(capsys, "train.yaml", "--output-format", "concise")
    assert code == 1 and out.startswith("train.yaml:4:1: LORA101 `use_dora` needs peft >= 0.9.0")
    assert "llmtuner==0.1.0 in pyproject.toml ([project] dependencies): its release 0.1.0 requires peft>=0.3.0" in out
    (project / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["llamafactory==0.9.0"]\n')
    assert lint(capsys, "train.yaml")[0] == 0


def test_python_files_and_other_frameworks_yaml_keep_the_project_range(project, capsys):
    (project / "requirements.txt").write_text("llamafactory==0.9.0\n")
    (project / "train.yaml").write_text(AXOLOTL)  # axolotl's YAML: LLaMA-Factory's pin says nothing about it
    (project / "train.py").write_text("from peft import LoraConfig\n\nLoraConfig(trainable_token_indices=[1])\n")
    assert lint(capsys, "train.yaml", "train.py")[0] == 0


def test_show_settings_names_the_declared_framework(project, capsys):
    (project / "requirements.txt").write_text("axolotl==0.6.0\n")
    code, out, _ = lint(capsys, "--show-settings")
    assert code == 0 and "trainer framework: axolotl==0.6.0 (from requirements.txt)" in out


def test_an_unreadable_framework_requirement_changes_nothing(project, capsys):
    (project / "train.yaml").write_text(AXOLOTL)
    (project / "requirements.txt").write_text("axolotl>=banana\n")  # pip would refuse it; the peft range stays
    assert lint(capsys, "train.yaml")[0] == 0
