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


def _tiny_llama():
    from pytest_lora.tiny_models import build_tiny_model

    return build_tiny_model("llama", "causal_lm")  # two layers


def _adapted_layers(model) -> set[int]:
    import re

    return {int(re.search(r"\.layers\.(\d+)\.", name).group(1)) for name, _ in model.named_modules()
            if name.endswith("q_proj.lora_A")}


def test_layers_to_transform_beyond_the_model_is_skipped_silently():
    """LORA006's silent case: an index the model does not have adapts nothing, without a word."""
    model = peft.get_peft_model(_tiny_llama(), peft.LoraConfig(target_modules=["q_proj"], layers_to_transform=[0, 5]))
    assert _adapted_layers(model) == {0}


def test_layers_to_transform_with_no_index_left_raises():
    """LORA006's raising case: no layer left, so no target module, after the model is built."""
    with pytest.raises(ValueError):
        peft.get_peft_model(_tiny_llama(), peft.LoraConfig(target_modules=["q_proj"], layers_to_transform=[5]))


def test_layers_pattern_naming_no_list_raises():
    with pytest.raises(ValueError):
        peft.get_peft_model(_tiny_llama(), peft.LoraConfig(target_modules=["q_proj"], layers_to_transform=[0],
                                                           layers_pattern="layer"))
