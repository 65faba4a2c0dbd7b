"""The rules' own tables checked against the installed peft (skipped without it)."""
from __future__ import annotations

import dataclasses

import pytest

from lint_rules.knowledge import peft_releases
from lint_rules.knowledge.misspellings import CONFUSIONS

peft = pytest.importorskip("peft")
INSTALLED = {f.name for f in dataclasses.fields(peft.LoraConfig)}


def test_confused_names_are_not_lora_config_arguments():
    assert not set(CONFUSIONS) & INSTALLED
    assert not set(CONFUSIONS) & peft_releases.all_field_names()


def test_suggested_names_are_lora_config_arguments():
    assert {meant for meant, _ in CONFUSIONS.values() if meant} <= INSTALLED


@pytest.mark.parametrize("config, names", [
    ("AdaLoraConfig", ["init_r", "target_r", "tinit", "tfinal", "deltaT", "beta1", "beta2", "orth_reg_weight",
                       "total_step"]),
    ("LoHaConfig", ["alpha", "rank_dropout", "module_dropout", "use_effective_conv2d"]),
    ("LoKrConfig", ["decompose_both", "decompose_factor"]),
    ("IA3Config", ["feedforward_modules"]),
    ("PromptTuningConfig", ["num_virtual_tokens", "prompt_tuning_init"]),
    ("PrefixTuningConfig", ["prefix_projection", "encoder_hidden_size"]),
])
def test_hints_name_the_config_that_has_them(config, names):
    fields = {f.name for f in dataclasses.fields(getattr(peft, config))}
    assert set(names) <= fields


def test_unknown_keyword_raises_type_error():
    with pytest.raises(TypeError):
        peft.LoraConfig(r=8, nit_lora_weights="gaussian")
