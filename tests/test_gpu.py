"""The CUDA suite (scripts/gpu-check runs it): skipped, with the reason, where there is no GPU."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from pytest_lora import (  # noqa: E402
    assert_base_frozen,
    assert_device_placement,
    assert_lora_grads_flow,
    assert_trainable_params,
    estimate_lora_memory,
)

MIB = 1024**2


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


@pytest.mark.gpu
def test_device_map_auto_over_the_gpus_present(lora_tiny_model, lora_apply, record_property):
    model = lora_tiny_model("llama", device_map="auto", num_hidden_layers=4)
    placed = sorted({str(d) for d in model.hf_device_map.values()})
    record_property("device_map", f"{len(model.hf_device_map)} modules on {', '.join(placed)}")
    peft_model = lora_apply(model, target_modules="all-linear", r=4)
    assert_device_placement(peft_model)
    assert {p.device.type for p in peft_model.parameters()} == {"cuda"}
    _train_step(peft_model, next(model.parameters()).device)


@pytest.mark.gpu
def test_qlora_4bit_after_kbit_preparation_trains_every_adapter(tmp_path, lora_tiny_model):
    pytest.importorskip("bitsandbytes")
    import peft
    import transformers

    lora_tiny_model("llama").save_pretrained(tmp_path)
    quantization = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                   bnb_4bit_compute_dtype=torch.bfloat16)
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=quantization,
                                                              device_map={"": 0})
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    model = peft.prepare_model_for_kbit_training(model)
    peft_model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    assert_lora_grads_flow(peft_model)
    assert_lora_grads_flow(peft_model, gradient_checkpointing={"use_reentrant": False})


@pytest.mark.gpu
def test_the_memory_estimate_against_one_training_step_of_a_1b_model(record_property):
    import peft

    from pytest_lora.skeletons import build_resolved, resolve_for_build

    torch.cuda.empty_cache()
    start = torch.cuda.memory_allocated()
    model = build_resolved(resolve_for_build("meta-llama/Llama-3.2-1B"), "causal_lm", "bfloat16", device="cuda")
    config = peft.LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    peft_model = peft.get_peft_model(model, config)
    batch, seq = 1, 512
    estimate = estimate_lora_memory(peft_model, None, batch_size=batch, seq_len=seq)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
    torch.cuda.reset_peak_memory_stats()
    peft_model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    peak = torch.cuda.max_memory_allocated() - start
    held = torch.cuda.memory_allocated() - start  # weights, gradients and optimizer states: activations are freed
    static = estimate.total - estimate.activations
    record_property("memory", f"{torch.cuda.get_device_name()}: held after the step {held / MIB:,.1f} MiB vs "
                              f"estimated weights+grads+AdamW {static / MIB:,.1f} MiB; peak {peak / MIB:,.1f} MiB vs "
                              f"estimated total {estimate.total / MIB:,.1f} MiB (activations {estimate.activations / MIB:,.1f})")
    assert abs(held - static) <= 0.02 * static
    assert peak >= held
