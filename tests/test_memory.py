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
