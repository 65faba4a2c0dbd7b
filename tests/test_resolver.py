"""resolve_model: local dir -> hub cache -> curated table -> name guess, never the network."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from lint_rules.knowledge.models import (
    Resolution,
    curated,
    guess_model_type,
    hub_cache_dir,
    resolve_model,
    task_from_config,
)


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """Point the hub cache at an empty folder so the machine's real cache cannot interfere."""
    cache = tmp_path / "empty-hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def write_config(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(fields))
    return folder


def cache_snapshot(cache, repo_id, revision, **fields):
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    return write_config(repo / "snapshots" / revision, **fields)


def set_main(cache, repo_id, revision):
    refs = cache / ("models--" + repo_id.replace("/", "--")) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(revision)


def test_local_directory_with_config(tmp_path):
    folder = write_config(tmp_path / "ckpt", model_type="mistral", hidden_size=64,
                          architectures=["MistralForCausalLM"])
    found = resolve_model(folder)
    assert (found.source, found.model_type, found.task) == ("local", "mistral", "causal_lm")
    assert found.config == {"hidden_size": 64, "architectures": ["MistralForCausalLM"]}


def test_local_directory_beats_cache_table_and_guess(tmp_path, monkeypatch, empty_cache):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "gpt2", model_type="llama", hidden_size=32)
    cache_snapshot(empty_cache, "gpt2", "abc", model_type="bloom")
    found = resolve_model("gpt2")
    assert (found.source, found.model_type) == ("local", "llama")


def test_directory_without_config_falls_through_to_the_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpt2").mkdir()
    assert resolve_model("gpt2").source == "table"


def test_cache_beats_table(empty_cache):
    cache_snapshot(empty_cache, "meta-llama/Llama-2-7b-hf", "rev1", model_type="llama",
                   hidden_size=128, architectures=["LlamaForCausalLM"])
    found = resolve_model("meta-llama/Llama-2-7b-hf")
    assert (found.source, found.config["hidden_size"]) == ("cache", 128)


def test_cache_prefers_the_snapshot_refs_main_names(empty_cache):
    cache_snapshot(empty_cache, "org/model", "old", model_type="gpt2")
    cache_snapshot(empty_cache, "org/model", "new", model_type="opt")
    set_main(empty_cache, "org/model", "old")
    assert resolve_model("org/model").model_type == "gpt2"


def test_cache_without_refs_takes_a_snapshot(empty_cache):
    cache_snapshot(empty_cache, "org/model", "only", model_type="opt")
    found = resolve_model("org/model")
    assert (found.source, found.model_type) == ("cache", "opt")


def test_explicit_cache_dir_argument(tmp_path):
    other = tmp_path / "elsewhere"
    cache_snapshot(other, "org/model", "r", model_type="falcon")
    assert resolve_model("org/model", cache_dir=other).model_type == "falcon"
    assert resolve_model("org/model") is None


def test_hf_home_is_used_when_hf_hub_cache_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    cache_snapshot(tmp_path / "home" / "hub", "org/model", "r", model_type="bloom")
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    assert resolve_model("org/model").source == "cache"


def test_default_cache_is_under_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    cache_snapshot(tmp_path / ".cache" / "huggingface" / "hub", "org/model", "r", model_type="opt")
    assert resolve_model("org/model").source == "cache"


def test_unreadable_cached_config_falls_through(empty_cache):
    snap = empty_cache / "models--gpt2" / "snapshots" / "r"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{not json")
    assert resolve_model("gpt2").source == "table"


def test_table_beats_guess_and_matches_case_insensitively():
    found = resolve_model("MISTRALAI/mistral-7b-V0.1")
    assert (found.source, found.model_type) == ("table", "mistral")
    assert found.config["num_key_value_heads"] == 8
    assert found.note.startswith("curated")


def test_table_matches_aliases():
    assert resolve_model("openai-community/gpt2").config == resolve_model("gpt2").config


def test_table_gives_the_default_task():
    assert resolve_model("google/flan-t5-base").task == "seq2seq_lm"
    assert resolve_model("bert-base-uncased").task == "base"
    assert resolve_model("gpt2").task == "causal_lm"


@pytest.mark.parametrize(
    "name, model_type",
    [
        ("someone/Mixtral-8x22B-finetune", "mixtral"),
        ("someone/mistral-7b-dpo", "mistral"),
        ("someone/CodeLlama-34b-Instruct-sql", "llama"),
        ("TinyLlama/TinyLlama_v1.1", "llama"),
        ("my-org/llama-3-finetune", "llama"),
        ("acme/qwen3-14b-sft", "qwen3"),
        ("acme/Qwen2.5-Coder-32B-lora", "qwen2"),
        ("acme/gemma-2-27b-it-dpo", "gemma2"),
        ("acme/gemma-7b-lora", "gemma"),
        ("acme/Phi-3-medium-128k", "phi3"),
        ("acme/starcoder2-15b-py", "starcoder2"),
        ("acme/starcoderbase-1b-sft", "gpt_bigcode"),
        ("acme/falcon-40b-sft", "falcon"),
        ("acme/pythia-12b-sft", "gpt_neox"),
        ("acme/flan-t5-xxl-samsum", "t5"),
        ("acme/distilbert-base-cased-squad", "distilbert"),
        ("acme/roberta-large-mnli", "roberta"),
        ("acme/dolphin-2.9-llama3-8b", "llama"),
    ],
)
def test_name_guesses(name, model_type):
    found = resolve_model(name)
    assert (found.source, found.model_type) == ("guess", model_type)
    assert "guess" in found.note and found.config == {}


def test_guess_gives_the_type_default_task():
    assert resolve_model("acme/flan-t5-xxl-samsum").task == "seq2seq_lm"
    assert resolve_model("acme/roberta-large-mnli").task == "base"


@pytest.mark.parametrize(
    "name, curated_id",
    [
        ("unsloth/llama-3-8b-Instruct-bnb-4bit", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("unsloth/Llama-3.2-1B-Instruct-unsloth-bnb-4bit", "meta-llama/Llama-3.2-1B-Instruct"),
        ("TheBloke/Llama-2-7B-Chat-GPTQ", "meta-llama/Llama-2-7b-chat-hf"),
        ("TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "mistralai/Mistral-7B-Instruct-v0.2"),
        ("TheBloke/Llama-2-13B-GGUF", "meta-llama/Llama-2-13b-hf"),
        ("NousResearch/Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf"),
        ("mlx-community/Meta-Llama-3.1-8B-Instruct-4bit", "meta-llama/Llama-3.1-8B-Instruct"),
        ("unsloth/gemma-2-9b-it-bnb-4bit", "google/gemma-2-9b-it"),
        ("Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-7B-Instruct"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-7B-Instruct"),
        ("unsloth/mistral-7b-v0.3-bnb-4bit", "mistralai/Mistral-7B-v0.3"),
        ("someone/CodeLlama-34b-Instruct", "codellama/CodeLlama-34b-Instruct-hf"),
        ("acme/falcon-40b", "tiiuae/falcon-40b"),
        ("acme/flan-t5-xxl", "google/flan-t5-xxl"),
    ],
)
def test_reuploads_under_other_names_have_the_checkpoints_config(name, curated_id):
    """Quantized or converted copies (-bnb-4bit, -GPTQ, -AWQ, -GGUF, -hf, other organisations)."""
    found = resolve_model(name)
    assert (found.source, found.config) == ("table", curated()[curated_id]["config"])
    assert found.model_type == curated()[curated_id]["model_type"]
    assert f"curated config of {curated_id} " in found.note and "re-upload" in found.note


@pytest.mark.parametrize(
    "name, curated_id, how",
    [
        # issue 9: the Instruct id was left unresolved while the base id was curated
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1", None),
        ("google/gemma-2-9b-pt", "google/gemma-2-9b", "variant"),
        ("meta-llama/Llama-2-7b", "meta-llama/Llama-2-7b-hf", "re-upload"),
        ("meta-llama/Llama-3.3-70B", "meta-llama/Llama-3.3-70B-Instruct", "variant"),
        ("Qwen/Qwen2-7B-Chat", "Qwen/Qwen2-7B", "variant"),
        ("TinyLlama/TinyLlama-1.1B-Chat-v0.6", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "another version"),
        ("EleutherAI/pythia-1b-v0", "EleutherAI/pythia-1b", "another version"),
    ],
)
def test_variants_and_versions_of_a_curated_checkpoint(name, curated_id, how):
    found = resolve_model(name)
    assert (found.source, found.config) == ("table", curated()[curated_id]["config"])
    assert found.note.startswith(f"curated config of {curated_id}")
    assert how is None or f"read as a {how}" in found.note or f"read as {how}" in found.note


@pytest.mark.parametrize(
    "name",
    [
        "mistralai/Mistral-7B-Instruct-v0.4",  # v0.1/v0.2 (32,000 tokens) and v0.3 (32,768) disagree
        "unsloth/mistral-7b-bnb-4bit",  # which Mistral-7B version: the same disagreement
        "Qwen/Qwen2.5-VL-32B-Instruct",  # a vision-language model, not Qwen2.5-32B-Instruct
        "google/paligemma2-3b-pt-224",  # a vision-language model, not Gemma 2 2B
        "meta-llama/Llama-3.3-8B-Instruct",  # no curated 3.3 8B
        "./llama-2-7b-hf",  # a local path that is not there is not a hub id
    ],
)
def test_names_no_single_curated_checkpoint_fits_stay_unresolved(name):
    found = resolve_model(name)
    assert found is None or found.source == "guess"


@pytest.mark.parametrize("name", ["acme/t5", "acme/roberta", "acme/whisper", "acme/flan-t5"])
def test_a_name_without_a_size_is_no_variant(name):
    # "t5-base" and "roberta-base" name a size: "t5" is not their variant
    found = resolve_model(name)
    assert found is None or found.source == "guess"


def test_every_curated_id_and_alias_resolves_to_itself():
    for model_id, entry in curated().items():
        for name in (model_id, *entry["aliases"]):
            assert resolve_model(name).note == f"curated config of {model_id}", name


def test_nothing_fits():
    assert resolve_model("acme/totally-unknown-net") is None
    assert guess_model_type("acme/totally-unknown-net") is None


@pytest.mark.parametrize(
    "config, task",
    [
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, "causal_lm"),
        ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, "causal_lm"),
        ({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}, "seq2seq_lm"),
        ({"model_type": "bert", "architectures": ["BertForMaskedLM"]}, "masked_lm"),
        ({"model_type": "roberta", "architectures": ["RobertaForSequenceClassification"]},
         "sequence_classification"),
        ({"model_type": "bert", "architectures": ["BertModel"]}, "base"),
        ({"model_type": "bart"}, "seq2seq_lm"),
        ({"model_type": "falcon"}, "causal_lm"),
    ],
)
def test_task_from_config(config, task):
    assert task_from_config(config) == task


def test_curated_returns_a_copy():
    table = curated()
    table["gpt2"]["config"]["n_layer"] = 99
    assert curated()["gpt2"]["config"]["n_layer"] == 12


def test_curated_ids_are_unique_case_insensitively():
    names = [n.lower() for n, entry in curated().items() for n in (n, *entry["aliases"])]
    assert len(names) == len(set(names))


def test_resolution_fields():
    found = resolve_model("gpt2")
    assert isinstance(found, Resolution)
    assert (found.name, found.model_type, found.source) == ("gpt2", "gpt2", "table")


def test_never_opens_a_socket(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("resolve_model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("gpt2", "org/not-cached-model", "acme/llama-x", str(tmp_path)):
        resolve_model(name)


def test_models_module_imports_nothing_heavy():
    code = (
        "import sys; from lint_rules.knowledge.models import resolve_model; "
        "resolve_model('gpt2'); resolve_model('acme/mixtral-x'); "
        "print(','.join(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
