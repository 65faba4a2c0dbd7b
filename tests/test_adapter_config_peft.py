"""LORA104's claims against the installed peft, offline: what loading a saved adapter_config.json
with a key the release lacks does (``LoraConfig.from_pretrained``/``PeftConfig.from_pretrained``
from a folder), and that what lora-lint fixes loads the same."""
from __future__ import annotations

import json
import os
import warnings

import pytest

from lint_rules.engine import fix_source, lint_source
from lint_rules.knowledge import peft_releases

peft = pytest.importorskip("peft")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if peft.__version__ not in peft_releases.versions():
    pytest.skip(f"installed peft {peft.__version__} is not in the data", allow_module_level=True)

INSTALLED = {"target-peft-version": f"=={peft.__version__}"}
BASE = {"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
        "target_modules": ["c_attn"], "task_type": "CAUSAL_LM"}


def _save(folder, fields: dict) -> str:
    text = json.dumps({**BASE, **fields}, indent=2, sort_keys=True) + "\n"
    (folder / "adapter_config.json").write_text(text)
    return text


@pytest.mark.parametrize("loader", ["LoraConfig", "PeftConfig"])
def test_an_unknown_key_is_dropped_with_a_warning_since_0_14(tmp_path, loader):
    assert peft_releases.drops_unknown_config_keys(peft.__version__)  # the installed peft is >= 0.14
    _save(tmp_path, {"use_dora": True, "an_option_from_the_future": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = getattr(peft, loader).from_pretrained(str(tmp_path))
    assert any("Unexpected keyword arguments ['an_option_from_the_future']" in str(w.message) for w in caught)
    assert config.use_dora is True and not hasattr(config, "an_option_from_the_future")


def test_the_constructor_itself_raises_what_peft_before_0_14_let_out(tmp_path):
    """Before 0.14 ``from_peft_type`` called ``LoraConfig(**loaded)`` without catching: this TypeError."""
    _save(tmp_path, {"an_option_from_the_future": True})
    loaded = peft.PeftConfig.from_json_file(str(tmp_path / "adapter_config.json"))
    with pytest.raises(TypeError, match="unexpected keyword argument 'an_option_from_the_future'"):
        peft.LoraConfig(**loaded)
    assert not peft_releases.drops_unknown_config_keys("0.13.2")


def test_every_key_the_installed_peft_saves_is_loadable_by_it(tmp_path):
    """What the installed peft writes, lora-lint does not flag for that same release."""
    peft.LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn"], base_model_name_or_path="gpt2",
                    task_type="CAUSAL_LM").save_pretrained(str(tmp_path))
    text = (tmp_path / "adapter_config.json").read_text()
    assert lint_source(text, filename="adapter_config.json", settings=INSTALLED, select=["LORA104"]) == []
    # and each key it writes that 0.13.2 lacks is what LORA104 reports there, each with the removing fix
    lacking = sorted(set(json.loads(text)) - set(peft_releases.lora_fields("0.13.2")))
    found = lint_source(text, filename="adapter_config.json", settings={"target-peft-version": "==0.13.2"},
                        select=["LORA104"])
    assert sorted(v.message.split("`")[1] for v in found) == lacking and lacking
    fixed, left = fix_source(text, filename="adapter_config.json", settings={"target-peft-version": "==0.13.2"},
                             select=["LORA104"])
    assert left == [] and sorted(set(json.loads(text)) - set(json.loads(fixed))) == lacking
    # what the fix left loads into the same config as the file it was made from
    (tmp_path / "adapter_config.json").write_text(fixed)
    reloaded = peft.LoraConfig.from_pretrained(str(tmp_path)).to_dict()
    (tmp_path / "adapter_config.json").write_text(text)
    assert reloaded == peft.LoraConfig.from_pretrained(str(tmp_path)).to_dict()
