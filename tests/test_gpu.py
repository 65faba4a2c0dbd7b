"""The CUDA suite (scripts/gpu-check runs it): skipped, with the reason, where there is no GPU."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from pytest_lora import (  # noqa: E402
    assert_base_frozen,
    assert_device_placement,
    assert_trainable_params,
)


def _train_step(peft_model, device) -> None:
    ids = torch.tensor([[1, 2, 3, 4]], device=device)
    loss = peft_model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_tiny_model_trains_on_cuda(lora_tiny_model, lora_apply, dtype):
    peft_model = lora_apply(lora_tiny_model("llama", dtype=dtype, device="cuda"),
                            target_modules="all-linear", r=8)
    assert_device_placement(peft_model, device="cuda")
    assert_trainable_params(peft_model)
    assert_base_frozen(peft_model)
    _train_step(peft_model, "cuda")


@pytest.mark.lora_devices("cuda")
def test_lora_device_puts_the_tiny_model_on_cuda(lora_device, lora_tiny_model, lora_apply):
    peft_model = lora_apply(lora_tiny_model("qwen2"), target_modules=["q_proj", "v_proj"])
    assert {p.device.type for p in peft_model.parameters()} == {"cuda"}
    assert_device_placement(peft_model, device=lora_device)


@pytest.mark.gpu
def test_misplaced_adapter_fails_with_module_names(lora_tiny_model, lora_apply):
    peft_model = lora_apply(lora_tiny_model("llama", device="cuda"), target_modules=["q_proj", "v_proj"])
    peft_model.base_model.model.model.layers[1].self_attn.q_proj.lora_B.to("cpu")
    with pytest.raises(AssertionError) as failure:
        assert_device_placement(peft_model)
    assert ("model.layers.1.self_attn.q_proj.lora_B.default.weight: adapter on cpu, base weight on cuda:0"
            in str(failure.value))


@pytest.mark.gpu(count=2)
def test_device_map_shards_across_gpus(lora_tiny_model, lora_apply):
    model = lora_tiny_model("llama", device_map="auto", num_hidden_layers=8)
    assert len({p.device for p in model.parameters()}) >= 2
    peft_model = lora_apply(model, target_modules="all-linear", r=4)
    assert_device_placement(peft_model)
    assert_trainable_params(peft_model)
    _train_step(peft_model, next(model.parameters()).device)
