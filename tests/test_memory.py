"""estimate_lora_memory against the bytes of real tensors after a real AdamW step."""
from __future__ import annotations

import os
import warnings

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from pytest_lora import estimate_lora_memory  # noqa: E402
from pytest_lora.tiny_models import build_tiny_model  # noqa: E402


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize(("model_type", "task", "kwargs"), [
    ("llama", "causal_lm", {"target_modules": ["q_proj", "v_proj"], "r": 8}),
    ("opt", "sequence_classification", {"target_modules": "all-linear", "r": 4, "bias": "all",
                                        "use_dora": True, "task_type": "SEQ_CLS"}),
    # copies of layers sharing their weights, and trainable embedding rows (upcast like LoRA weights)
    ("llama", "causal_lm", {"target_modules": ["q_proj", "v_proj"], "r": 8, "layer_replication": [[0, 2], [1, 2]],
                            "trainable_token_indices": [1, 2, 3]}),
])
def test_terms_equal_real_tensor_bytes_after_an_adamw_step(model_type, task, kwargs, dtype):
    estimate = estimate_lora_memory(build_tiny_model(model_type, task, dtype=dtype), kwargs)

    model = build_tiny_model(model_type, task, dtype=dtype)
    base = _bytes(model.parameters())
    before = {id(p) for p in model.parameters()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model = peft.get_peft_model(model, peft.LoraConfig(**kwargs))
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    ids = torch.tensor([[1, 2, 3, 4]])
    labels = ids if task == "causal_lm" else torch.tensor([1])
    peft_model(input_ids=ids, labels=labels).loss.backward()
    optimizer.step()

    states = [t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)]
    new = [p for p in peft_model.parameters() if id(p) not in before]
    assert estimate.base_weights == base
    assert estimate.adapter_weights == _bytes(new)
    assert estimate.gradients == _bytes(p.grad for p in trainable)
    assert estimate.optimizer_states == _bytes(states)
    assert estimate.trainable_params == sum(p.numel() for p in trainable)
    assert estimate.activations is None


def test_llama2_7b_in_bf16_from_its_name():
    # 6,738,415,616 weights (published); r=8 on q_proj/v_proj trains 4,194,304 of them (peft docs)
    r8 = estimate_lora_memory("meta-llama/Llama-2-7b-hf", {"r": 8, "target_modules": ["q_proj", "v_proj"]},
                              dtype="bfloat16")
    r16 = estimate_lora_memory("meta-llama/Llama-2-7b-hf", {"r": 16, "target_modules": ["q_proj", "v_proj"]},
                               dtype="bfloat16")
    assert r8.base_weights == 6_738_415_616 * 2
    assert r8.adapter_weights == 4_194_304 * 4  # float32 adapters over a bf16 base
    # two float32 moments per weight, and a float32 step for each of the 4 x 32 LoRA tensors
    assert r8.optimizer_states == 2 * 4_194_304 * 4 + 4 * 4 * 32
    assert r16.adapter_weights == 2 * r8.adapter_weights
    assert r8.fits(24) and not r8.fits(12)
    assert "frozen base weights" in str(r8) and "12.551 GiB" in str(r8)


def test_activations_only_with_batch_and_sequence_length():
    model = build_tiny_model("llama")
    config = {"target_modules": ["q_proj"], "r": 4}
    short = estimate_lora_memory(model, config, batch_size=2, seq_len=128)
    long = estimate_lora_memory(model, config, batch_size=2, seq_len=256)
    assert 0 < short.activations < long.activations
    assert long.total - long.activations == short.total - short.activations


LLAMA_70B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8192,
             "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64,
             "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False}
QV16 = {"r": 16, "target_modules": ["q_proj", "v_proj"]}


def test_an_uncurated_id_is_refused_not_estimated_at_the_default_size(tmp_path, monkeypatch):
    # newcomer trial: 6,738,415,616 parameters, 12.7 GiB and fits(24) == True for a 70B model
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(LookupError, match="(?s)only a name guess.*model_config="):
        estimate_lora_memory("acme-research/Llama-70B-merged", QV16, dtype="bf16")
    given = estimate_lora_memory("acme-research/Llama-70B-merged", QV16, dtype="bf16", model_config=LLAMA_70B)
    curated = estimate_lora_memory("meta-llama/Llama-3.1-70B", QV16, dtype="bf16")
    assert estimate_lora_memory("meta-llama/Llama-3.3-70B-Instruct", QV16, dtype="bf16") == curated  # curated now
    assert given == curated
    assert given.total_params - given.trainable_params == 70_553_706_496 and not given.fits(24)
    with pytest.warns(UserWarning, match="guess"):
        guessed = estimate_lora_memory("acme/llama-from-scratch", QV16, allow_guess=True)
    assert guessed.trainable_params > 0


@pytest.mark.parametrize(("kwargs", "error", "reason"), [
    ({"r": 0}, ValueError, "`r` should be a positive integer value but the value passed is 0"),
    ({"r": -1}, ValueError, "`r` should be a positive integer value but the value passed is -1"),
    ({"r": 2.5}, TypeError, "`r` should be a positive integer value but the value passed is 2.5"),
    ({"r": "8"}, TypeError, "`r` should be a positive integer value but the value passed is '8'"),
    ({"r": None}, TypeError, "`r` should be a positive integer value but the value passed is None"),
    ({"batch_size": -1, "seq_len": 128}, ValueError, "batch_size should be a positive integer, not -1"),
    ({"batch_size": 2, "seq_len": 0}, ValueError, "seq_len should be a positive integer, not 0"),
    ({"batch_size": 2}, ValueError, "both batch_size and seq_len"),
    ({"dtype": "banana"}, ValueError, "unknown dtype 'banana'"),
    ({"adapter_dtype": "nn"}, ValueError, "unknown dtype 'nn'"),
])
def test_what_peft_refuses_is_refused_not_estimated(kwargs, error, reason):
    # hostile testing D20: r=0 gave 0 trainable, r=-1 a negative count, r=2.5 a fractional one
    config = {"target_modules": ["c_attn"], "r": kwargs.pop("r", 4)}
    with pytest.raises(error) as refused:
        estimate_lora_memory("gpt2", config, **kwargs)
    assert reason in str(refused.value)


def test_sgd_keeps_no_state_and_unknown_optimizers_are_refused():
    model = build_tiny_model("llama")
    assert estimate_lora_memory(model, {"target_modules": ["q_proj"]}, optimizer="sgd").optimizer_states == 0
    with pytest.raises(ValueError, match="unknown optimizer"):
        estimate_lora_memory(model, {"target_modules": ["q_proj"]}, optimizer="lion")


def test_building_from_a_name_leaves_the_offline_flags_as_they_were(monkeypatch):
    from pytest_lora.skeletons import build_skeleton

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    build_skeleton("gpt2")
    estimate_lora_memory("gpt2", {"target_modules": ["c_attn"]})
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ


def test_a_first_build_does_not_leave_the_hub_offline_for_the_process():
    # huggingface_hub reads the offline flags once, when it is first imported
    import subprocess
    import sys

    code = ("from pytest_lora.skeletons import build_skeleton; build_skeleton('gpt2'); "
            "import huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["False"]
