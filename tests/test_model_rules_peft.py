"""What LORA007, LORA012 and LORA203 say peft does, shown with the installed peft on tiny models
(skipped without peft/transformers/torch): each INVALID shape has the silent effect the message names."""
from __future__ import annotations

import dataclasses
import re
import warnings

import pytest

from lint_rules.engine import lint_source
from lint_rules.knowledge.matching import pattern_key_test

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_lora.tiny_models import build_tiny_model, tiny_config  # noqa: E402


def _wrap(model, **config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(model, peft.LoraConfig(**config))


def _trainable(model, part: str) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad and part in n]


def _codes(source: str, **settings) -> list[str]:
    return [v.code for v in lint_source(source, filename="case.py", settings=settings)]


# -- LORA007 -------------------------------------------------------------------------------------

def test_a_new_head_without_task_type_is_frozen_and_not_saved():
    model = _wrap(build_tiny_model("llama", "sequence_classification"), target_modules=["q_proj", "v_proj"])
    assert _trainable(model, "score") == []
    saved = peft.get_peft_model_state_dict(model)
    assert saved and not [k for k in saved if "score" in k]


def test_the_task_type_trains_and_saves_the_head():
    model = _wrap(build_tiny_model("llama", "sequence_classification"), target_modules=["q_proj", "v_proj"],
                  task_type="SEQ_CLS")
    assert _trainable(model, "score")
    assert [k for k in peft.get_peft_model_state_dict(model) if "score" in k]


def test_the_head_in_target_modules_saves_lora_weights_but_not_the_random_base_head():
    model = _wrap(build_tiny_model("llama", "sequence_classification"), target_modules=["q_proj", "score"])
    saved = peft.get_peft_model_state_dict(model)
    assert [k for k in saved if "score.lora" in k]
    assert not [k for k in saved if "score" in k and "lora" not in k]


def test_a_token_classifier_head_is_frozen_without_token_cls():
    config = tiny_config("gpt2")
    model = _wrap(transformers.AutoModelForTokenClassification.from_config(config), target_modules=["c_attn"])
    assert _trainable(model, "classifier") == []


def test_a_misspelt_modules_to_save_entry_is_ignored_silently():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = peft.get_peft_model(build_tiny_model("llama", "sequence_classification"),
                                    peft.LoraConfig(target_modules=["q_proj"], modules_to_save=["scores"]))
    assert _trainable(model, "score") == []
    assert not [w for w in caught if "scores" in str(w.message)]  # not even a warning


def test_modules_to_save_from_list_append_is_none():
    mods = ["score"]
    config = peft.LoraConfig(target_modules=["q_proj"], modules_to_save=mods.append("embed_tokens"))
    assert config.modules_to_save is None
    model = _wrap(build_tiny_model("llama", "sequence_classification"), target_modules=["q_proj"],
                  modules_to_save=config.modules_to_save)
    assert _trainable(model, "score") == [] and _trainable(model, "embed_tokens") == []


def test_an_unmatched_rank_pattern_key_leaves_the_global_rank():
    model = _wrap(build_tiny_model("llama", "causal_lm"), r=8, target_modules=["q_proj"], rank_pattern={"qproj": 2})
    ranks = {p.shape[0] for n, p in model.named_parameters() if "q_proj.lora_A" in n}
    assert ranks == {8}
    matched = _wrap(build_tiny_model("llama", "causal_lm"), r=8, target_modules=["q_proj"],
                    rank_pattern={"q_proj": 2})
    assert {p.shape[0] for n, p in matched.named_parameters() if "q_proj.lora_A" in n} == {2}


@pytest.mark.parametrize("key", ["q_proj", "self_attn.q_proj", "layers.0.self_attn.q_proj", "(q|v)_proj",
                                 "model.layers.1.self_attn.q_proj", "qproj", "proj", ".*q_proj", "0"])
def test_pattern_key_semantics_are_the_installed_peft(key):
    from peft.utils.other import get_pattern_key

    names = [n for n, _ in build_tiny_model("llama", "causal_lm").named_modules() if n]
    test = pattern_key_test(peft.__version__)
    assert [n for n in names if test(key, n)] == [n for n in names if n == key or get_pattern_key([key], n) == key]


def test_lora007_flags_what_the_tiny_model_shows():
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForSequenceClassification\n\n"
              "model = AutoModelForSequenceClassification.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n")
    assert "LORA007" in _codes(source)
    assert "LORA007" not in _codes(source.replace("'v_proj']", "'v_proj'], task_type='SEQ_CLS'"))


# -- LORA012 -------------------------------------------------------------------------------------

def _tied_llama():
    model = build_tiny_model("llama", "causal_lm", tie_word_embeddings=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    return model


def test_merging_a_lora_lm_head_writes_into_the_tied_input_embedding():
    model = _wrap(_tied_llama(), target_modules=["q_proj", "lm_head"])
    before = model.base_model.model.model.embed_tokens.weight.detach().clone()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lm_head.lora_B" in name:
                param.fill_(0.5)  # what training does: a non-zero update
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = model.merge_and_unload()
    assert not torch.equal(merged.model.embed_tokens.weight, before)  # the inputs changed too


def test_saving_lm_head_of_a_tied_model_trains_a_separate_copy():
    model = _wrap(_tied_llama(), target_modules=["q_proj"], modules_to_save=["lm_head"])
    copy = dict(model.named_parameters())["base_model.model.lm_head.modules_to_save.default.weight"]
    embedding = model.base_model.model.model.embed_tokens.weight
    assert copy.requires_grad and not embedding.requires_grad
    assert copy.data_ptr() != embedding.data_ptr()  # one side trains, the other does not: they diverge


def test_the_suggested_ensure_weight_tying_keeps_the_copies_tied():
    if "ensure_weight_tying" not in {f.name for f in dataclasses.fields(peft.LoraConfig)}:
        pytest.skip("this peft has no ensure_weight_tying")
    model = _wrap(_tied_llama(), target_modules=["q_proj"], modules_to_save=["lm_head"], ensure_weight_tying=True)
    inner = model.base_model.model
    assert inner.lm_head.modules_to_save["default"].weight is inner.model.embed_tokens.modules_to_save["default"].weight


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "qwen2", "gemma", "t5", "opt", "bloom", "mistral"])
def test_tied_defaults_are_the_installed_transformers(model_type):
    from lint_rules.knowledge.tying import default_tied

    recorded = default_tied(model_type, transformers.__version__)
    if recorded is None:
        pytest.skip(f"no data for transformers {transformers.__version__}")
    assert recorded is transformers.CONFIG_MAPPING[model_type]().tie_word_embeddings


# -- LORA203 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("task_type", ["CAUSAL_LM", "SEQ_2_SEQ_LM"])
def test_a_generative_task_type_on_a_classifier_fails_in_get_peft_model(task_type):
    with pytest.raises(AttributeError, match="prepare_inputs_for_generation"):
        _wrap(build_tiny_model("gpt2", "sequence_classification"), target_modules=["c_attn"], task_type=task_type)


def test_seq2seq_task_type_on_a_decoder_only_model_cannot_be_loaded_back(tmp_path):
    base = build_tiny_model("gpt2", "causal_lm")
    base.save_pretrained(tmp_path / "base")
    model = _wrap(base, target_modules=["c_attn"], task_type="SEQ_2_SEQ_LM")
    model.save_pretrained(tmp_path / "adapter")
    config = (tmp_path / "adapter" / "adapter_config.json").read_text()
    assert re.search(r'"task_type": "SEQ_2_SEQ_LM"', config)
    with pytest.raises(ValueError, match="Expected target PEFT class"):
        peft.AutoPeftModelForCausalLM.from_pretrained(tmp_path / "adapter")
