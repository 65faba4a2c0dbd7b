"""Every curated id builds at full size on ``meta``; published totals match exactly.

Building all of them takes over a minute, so by default one id per model type is built, plus
every id with a published total; ``LORA_ALL_CURATED=1`` builds every curated id.
"""
from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

from lint_rules.knowledge.models import curated

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_lora.skeletons import UnresolvedModelError, build_skeleton, count_parameters  # noqa: E402

PUBLISHED = json.loads((Path(__file__).parent / "data" / "published_param_counts.json").read_text())
CURATED = curated()


def _built_ids() -> list[str]:
    if os.environ.get("LORA_ALL_CURATED"):
        return sorted(CURATED)
    first_of_type = {}
    for model_id in sorted(CURATED):
        first_of_type.setdefault(CURATED[model_id]["model_type"], model_id)
    return sorted(set(first_of_type.values()) | set(PUBLISHED["counts"]))


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No hub access, and an empty hub cache so only the curated table answers."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))


def test_the_families_people_fine_tune_are_curated():
    types = {entry["model_type"] for entry in CURATED.values()}
    assert len(CURATED) >= 300
    assert {"gpt2", "gptj", "gpt_neo", "gpt_neox", "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3",
            "qwen3_moe", "gemma", "gemma2", "gemma3_text", "phi", "phi3", "falcon", "opt", "bloom", "gpt_bigcode",
            "starcoder2", "deepseek_v2", "olmo", "olmo2", "gemma3", "qwen2_vl", "qwen2_5_vl", "t5", "bert", "roberta", "xlm-roberta", "distilbert",
            "deberta-v2", "modernbert", "whisper", "vit", "clip"} <= types


def test_every_curated_id_cites_where_its_values_come_from():
    unsourced = [model_id for model_id, entry in CURATED.items() if len(entry.get("source", "")) < 20]
    assert unsourced == []


def test_every_published_figure_is_for_a_curated_id():
    counts = PUBLISHED["counts"]
    assert set(counts) <= set(CURATED) and len(counts) >= 100
    assert all(entry["source"] for entry in counts.values())


def test_the_sample_built_by_default_covers_every_model_type():
    assert {CURATED[m]["model_type"] for m in _built_ids()} == {e["model_type"] for e in CURATED.values()}


@cache
def skeleton(model_id):
    """One meta build per id for the whole module (builds are read-only here)."""
    return build_skeleton(model_id)


@pytest.mark.slow
@pytest.mark.parametrize("model_id", _built_ids())
def test_builds_on_meta_with_a_real_model_type(model_id):
    entry = CURATED[model_id]
    assert entry["model_type"] in transformers.CONFIG_MAPPING
    model = skeleton(model_id)
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert model.config.model_type == entry["model_type"]


@pytest.mark.slow
@pytest.mark.parametrize("model_id", sorted(PUBLISHED["counts"]))
def test_total_equals_the_published_figure(model_id):
    published = PUBLISHED["counts"][model_id]
    model = skeleton(model_id)
    if published.get("counting") == "stored tensors":  # the hub's figure: a tied tensor once per name
        total = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    else:
        total = count_parameters(model)
    assert total == published["total"]


def test_the_eight_shared_figures_are_in_the_published_data():
    shared = {"gpt2": 124439808, "gpt2-medium": 354823168,
              "meta-llama/Llama-2-7b-hf": 6738415616, "mistralai/Mistral-7B-v0.1": 7241732096,
              "microsoft/phi-2": 2779683840, "facebook/opt-125m": 125239296,
              "EleutherAI/pythia-70m": 70426624, "bigscience/bloom-560m": 559214592}
    assert {k: PUBLISHED["counts"][k]["total"] for k in shared} == shared


def test_flan_t5_head_is_not_tied_to_the_embeddings():
    model = build_skeleton("google/flan-t5-base")
    assert model.lm_head.weight is not model.shared.weight
    tied = build_skeleton("t5-small")
    assert tied.lm_head.weight is tied.shared.weight


def test_task_override_picks_the_head():
    assert type(build_skeleton("bert-base-uncased", task="masked_lm")).__name__ == "BertForMaskedLM"
    assert type(build_skeleton("gpt2", task="base")).__name__ == "GPT2Model"
    seq = build_skeleton("roberta-base", task="sequence_classification")
    assert type(seq).__name__ == "RobertaForSequenceClassification"


def test_dtype_by_name_or_object():
    assert next(build_skeleton("gpt2", dtype="bfloat16").parameters()).dtype == torch.bfloat16
    assert next(build_skeleton("gpt2", dtype=torch.float16).parameters()).dtype == torch.float16
    assert next(build_skeleton("gpt2").parameters()).dtype == torch.float32


def test_local_config_directory(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 100, "transformers_version": "4.40.0",
        "torch_dtype": "bfloat16",
    }))
    model = build_skeleton(tmp_path)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert len(model.model.layers) == 3


def test_a_guess_is_refused_with_every_way_to_give_the_config():
    # newcomer trial: an un-curated 70B id was built as the llama default (6.7B, 12.7 GiB, fits(24))
    with pytest.raises(UnresolvedModelError) as refused:
        build_skeleton("acme-research/Llama-70B-merged")
    message = str(refused.value)
    assert "looks like a llama model" in message
    assert "config=" in message and "config.json" in message and "hf download acme-research/Llama-70B-merged" in message
    suggested = message.split("a curated id, e.g. ")[1].split("\n")[0].split(", ")
    assert suggested and all(CURATED[m]["model_type"] == "llama" for m in suggested)
    assert "allow_guess=True" in message


@pytest.mark.parametrize("name", ["tiiuae/Falcon-H1-7B-Base", "google/paligemma2-3b-pt-224", "Qwen/Qwen3-VL-8B-Instruct"])
def test_other_guessed_ids_are_refused(name):
    # Falcon-H1 is a hybrid Mamba model, PaliGemma 2 and Qwen3-VL have vision towers: a guess gets them wrong
    with pytest.raises(LookupError, match="only a name guess"):
        build_skeleton(name)


def test_gemma3_4b_has_its_vision_tower_and_the_image_token_rows():
    # litgpt's Gemma 3 4B has 262,144 text rows; the hub checkpoint's embedding has 262,208
    model = build_skeleton("google/gemma-3-4b-it")
    assert type(model).__name__ == "Gemma3ForConditionalGeneration"
    assert model.get_input_embeddings().weight.shape[0] == 262208
    assert len(model.model.vision_tower.encoder.layers) == 27  # SigLIP So400m depth


def test_a_reupload_builds_as_its_curated_checkpoint():
    # issue 9: quantized copies under other organisations resolve to the checkpoint they copy
    model = build_skeleton("unsloth/llama-3-8b-Instruct-bnb-4bit")
    assert len(model.model.layers) == 32 and model.config.vocab_size == 128256


def test_an_explicit_allow_guess_builds_the_type_defaults_and_warns():
    with pytest.warns(UserWarning, match="guess"):
        model = build_skeleton("acme/mixtral-from-scratch", allow_guess=True)
    assert type(model).__name__ == "MixtralForCausalLM"


LLAMA_70B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8192,
             "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64,
             "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False}


@pytest.mark.parametrize("form", ["dict", "file", "folder", "transformers"])
def test_config_given_explicitly(tmp_path, form):
    if form == "dict":
        config = LLAMA_70B
    elif form == "transformers":
        config = transformers.LlamaConfig(**{k: v for k, v in LLAMA_70B.items() if k not in ("model_type", "architectures")})
    else:
        (tmp_path / "config.json").write_text(json.dumps(LLAMA_70B))
        config = tmp_path / "config.json" if form == "file" else tmp_path
    model = build_skeleton("meta-llama/Llama-3.3-70B-Instruct", config=config)
    assert type(model).__name__ == "LlamaForCausalLM"
    # Llama-3.1-70B and 3.3-70B share this config: 70,553,706,496 parameters (published)
    assert count_parameters(model) == 70_553_706_496


def test_a_bad_config_argument_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no model_type"):
        build_skeleton("x", config={"hidden_size": 8})
    with pytest.raises(FileNotFoundError, match="not a config.json"):
        build_skeleton("x", config=tmp_path / "missing.json")
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a config object"):
        build_skeleton("x", config=tmp_path)
    with pytest.raises(TypeError, match="config= takes"):
        build_skeleton("x", config=42)


def test_errors():
    with pytest.raises(LookupError, match="(?s)cannot resolve .acme/totally-unknown-net.*config="):
        build_skeleton("acme/totally-unknown-net")
    with pytest.raises(ValueError, match="unknown task"):
        build_skeleton("gpt2", task="token_classification")
    with pytest.raises(ValueError, match="unknown dtype 'banana'"):
        build_skeleton("gpt2", dtype="banana")
    with pytest.raises(ValueError, match="unknown dtype 'nn'"):  # was torch.nn, failing later
        build_skeleton("gpt2", dtype="nn")


def test_count_parameters_counts_tied_weights_once_and_filters_trainable():
    model = build_skeleton("gpt2")
    assert model.lm_head.weight is model.transformer.wte.weight
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("transformer.h.0.attn.c_attn.")
    # c_attn: 768 x 2304 weight + 2304 bias (GPT-2's published layer shapes)
    assert count_parameters(model, trainable_only=True) == 768 * 2304 + 2304
