"""Tiny models: small, deterministic, fresh, offline, usable for a forward pass."""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pytest_lora.tiny_models import build_tiny_model  # noqa: E402

MOST_USED = ["gpt2", "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi",
             "phi3", "falcon", "opt", "bloom", "gpt_neox", "gpt_bigcode", "mpt", "t5", "bart", "bert",
             "roberta", "distilbert", "gptj", "gpt_neo", "starcoder2", "stablelm", "olmo", "cohere",
             "qwen2_moe", "deepseek_v3", "mbart", "albert", "electra", "deberta-v2", "llama4_text"]


@pytest.mark.parametrize("model_type", MOST_USED)
def test_most_used_architectures_build_small(model_type):
    model = build_tiny_model(model_type)
    assert model.config.model_type == model_type
    assert sum(p.numel() for p in model.parameters()) < 500_000


@pytest.mark.parametrize(("model_type", "task", "class_name"), [
    ("t5", None, "T5ForConditionalGeneration"),
    ("bart", None, "BartForConditionalGeneration"),
    ("bert", None, "BertForSequenceClassification"),
    ("llama", None, "LlamaForCausalLM"),
    ("llama", "sequence_classification", "LlamaForSequenceClassification"),
    ("llama", "base", "LlamaModel"),
])
def test_task_picks_the_model_class(model_type, task, class_name):
    assert type(build_tiny_model(model_type, task)).__name__ == class_name


def test_same_seed_same_weights_and_each_call_fresh():
    first, second = build_tiny_model("llama", seed=3), build_tiny_model("llama", seed=3)
    assert first is not second
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    state = torch.random.get_rng_state()
    other = build_tiny_model("llama", seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not torch.equal(first.lm_head.weight, other.lm_head.weight)


def test_dtype_and_device():
    model = build_tiny_model("qwen2", dtype="bfloat16", device="meta")
    assert {(p.dtype, p.device.type) for p in model.parameters()} == {(torch.bfloat16, "meta")}


@pytest.mark.parametrize(("model_type", "task"), [("gpt2", "causal_lm"), ("phi3", "causal_lm"),
                                                  ("t5", "seq2seq_lm"), ("llama", "sequence_classification")])
def test_forward_pass_runs_with_special_tokens_in_vocabulary(model_type, task):
    model = build_tiny_model(model_type, task)
    vocab = model.get_input_embeddings().num_embeddings
    config = model.config
    ids = torch.tensor([[1, 2, 3, vocab - 1], [4, 5, 6, vocab - 1]])
    kwargs = {"labels": ids} if task != "sequence_classification" else {"labels": torch.tensor([0, 1])}
    if task == "seq2seq_lm":
        kwargs["decoder_input_ids"] = ids
    loss = model(input_ids=ids, **kwargs).loss
    assert torch.isfinite(loss)
    for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
        value = getattr(config, name, None)
        assert value is None or isinstance(value, list) or value < vocab


def test_built_offline_and_environment_restored(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = {}
    import transformers

    original = transformers.AutoModelForCausalLM.from_config

    def spy(*args, **kwargs):
        seen["offline"] = os.environ.get("HF_HUB_OFFLINE")
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_config", spy)
    build_tiny_model("llama")
    assert seen == {"offline": "1"}
    assert "HF_HUB_OFFLINE" not in os.environ


def test_unknown_model_type_is_a_clear_error():
    from pytest_lora.skeletons import UnresolvedModelError

    with pytest.raises(UnresolvedModelError, match=r"(?s)'not-a-model' is not a model type of transformers .*, and as "
                                                   r"a model id: cannot resolve 'not-a-model'.*a curated id, e\.g\."):
        build_tiny_model("not-a-model")


def test_device_map_dispatches():
    model = build_tiny_model("llama", device_map={"": "cpu"})
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 256)


def test_device_map_auto_without_a_gpu_falls_back_to_the_cpu_as_transformers_does(monkeypatch):
    # newcomer trial: RuntimeError "device_map='auto' needs at least one CUDA device", so one test
    # could not run both in CPU CI and on GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    model = build_tiny_model("llama", device_map="auto")
    assert model.hf_device_map == {"": "cpu"}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 256)


def test_seeding_leaves_the_accelerators_rngs_alone(monkeypatch):
    # torch.manual_seed would also reseed every CUDA (and MPS) generator, which fork_rng(devices=[]) does not restore
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: seeded.append(seed))
    build_tiny_model("llama", seed=5)
    assert seeded == []


def test_configs_that_are_not_dataclasses_are_shrunk_too():
    # transformers 4 configs are plain classes: their sizes are __init__ keyword defaults
    from pytest_lora.tiny_models import _tiny_kwargs

    class PlainConfig:
        attribute_map = {"n_embd": "hidden_size"}

        def __init__(self, vocab_size=32000, hidden_size=4096, num_hidden_layers=32,
                     max_position_embeddings=4096, eos_token_id=31999, pad_token_id=None, **kwargs):
            pass

    assert _tiny_kwargs(PlainConfig, {"num_hidden_layers": 3}) == {
        "vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 3, "max_position_embeddings": 512,
        "eos_token_id": 255}


@pytest.mark.parametrize(("model_type", "class_name"), [
    ("whisper", "WhisperForConditionalGeneration"),  # newcomer trial: the default was WhisperForCausalLM
    ("vit", "ViTForImageClassification"),
    ("convnext", "ConvNextForImageClassification"),
    ("wav2vec2", "Wav2Vec2ForSequenceClassification"),
    ("bert", "BertForSequenceClassification"),
])
def test_default_task_is_what_the_model_is_fine_tuned_as(model_type, class_name):
    model = build_tiny_model(model_type)
    assert type(model).__name__ == class_name
    assert sum(p.numel() for p in model.parameters()) < 500_000


@pytest.mark.parametrize(("model_type", "task", "class_name"), [
    ("whisper", "speech_seq2seq", "WhisperForConditionalGeneration"),
    ("whisper", "audio_classification", "WhisperForAudioClassification"),
    ("hubert", "audio_classification", "HubertForSequenceClassification"),
    ("dinov2", "image_classification", "Dinov2ForImageClassification"),
])
def test_image_audio_and_speech_tasks(model_type, task, class_name):
    assert type(build_tiny_model(model_type, task)).__name__ == class_name


@pytest.mark.parametrize("model_type", ["whisper", "vit", "wav2vec2"])
def test_vision_and_speech_models_train_on_a_tiny_batch(model_type):
    from pytest_lora.batches import tiny_batch

    model = build_tiny_model(model_type).train()
    loss = model(**tiny_batch(model)).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_a_curated_id_is_its_config_shrunk():
    # newcomer trial: "transformers has no model type 'meta-llama/Llama-3.1-8B'"
    model = build_tiny_model("meta-llama/Llama-3.1-8B")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config._name_or_path == "meta-llama/Llama-3.1-8B"
    assert model.config.rope_parameters["rope_theta"] == 500000.0 if hasattr(model.config, "rope_parameters") \
        else model.config.rope_theta == 500000.0
    assert model.lm_head.weight is not model.model.embed_tokens.weight  # tie_word_embeddings: false
    assert (model.config.hidden_size, model.config.num_hidden_layers, model.config.vocab_size) == (64, 2, 256)


def test_a_config_dependent_structure_is_kept():
    # flan-t5 is gated-gelu: wi_0/wi_1 where the t5 default has wi
    names = {name.rpartition(".")[2] for name, _ in build_tiny_model("google/flan-t5-base").named_modules()}
    assert {"wi_0", "wi_1"} <= names and "wi" not in names
    assert "wi" in {name.rpartition(".")[2] for name, _ in build_tiny_model("t5").named_modules()}


def test_a_local_config_folder_is_shrunk_with_its_task_labels_and_token_ids(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"], "d_model": 768,
        "encoder_layers": 12, "decoder_layers": 12, "encoder_attention_heads": 12, "decoder_attention_heads": 12,
        "vocab_size": 51865, "max_source_positions": 1500, "decoder_start_token_id": 50258,
        "eos_token_id": 50257, "begin_suppress_tokens": [220, 50257]}))
    whisper = build_tiny_model(tmp_path)
    assert type(whisper).__name__ == "WhisperForConditionalGeneration"
    assert whisper.config.decoder_start_token_id == 255 and whisper.config.d_model == 64
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 768,
        "num_hidden_layers": 12, "num_attention_heads": 12, "image_size": 224, "qkv_bias": False,
        "id2label": {"0": "cat", "1": "dog", "2": "bird"}}))
    vit = build_tiny_model(tmp_path)
    assert (type(vit).__name__, vit.config.num_labels, vit.config.hidden_size) == ("ViTForImageClassification", 3, 64)
    queries = [module for name, module in vit.named_modules() if name.endswith("q_proj")]
    assert queries and all(module.bias is None for module in queries)  # qkv_bias: false is kept


def test_multi_head_attention_stays_multi_head():
    # phi-2 has as many key/value heads as query heads: a grouped tiny version would change k_proj's shape class
    model = build_tiny_model("microsoft/phi-2")
    assert model.config.num_key_value_heads == model.config.num_attention_heads


def test_an_id_known_only_by_a_guess_says_how_to_give_its_config():
    from pytest_lora.skeletons import UnresolvedModelError

    with pytest.raises(UnresolvedModelError, match=r"(?s)only a name guess.*a local folder holding its config\.json"):
        build_tiny_model("acme/llama-from-scratch")
