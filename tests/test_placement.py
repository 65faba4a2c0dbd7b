"""assert_device_placement, with the meta device standing in for a second device on CPU-only machines."""
from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from pytest_lora import assert_device_placement  # noqa: E402
from pytest_lora.tiny_models import build_tiny_model  # noqa: E402


def _apply(model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(model, peft.LoraConfig(**kwargs))


def test_adapters_follow_their_base_weights():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"])
    assert_device_placement(peft_model)
    assert_device_placement(peft_model, device="cpu")


def test_wrong_expected_device_is_reported():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"])
    with pytest.raises(AssertionError, match=r"(?s)expected on meta.*adapter on cpu, expected meta"):
        assert_device_placement(peft_model, device="meta")


def test_misplaced_adapter_names_the_module_and_both_devices():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"])
    peft_model.base_model.model.model.layers[1].self_attn.v_proj.lora_A.to("meta")
    with pytest.raises(AssertionError) as failure:
        assert_device_placement(peft_model)
    message = str(failure.value)
    assert "1 adapter weight(s) misplaced" in message
    assert "model.layers.1.self_attn.v_proj.lora_A.default.weight: adapter on meta, base weight on cpu" in message


def test_whole_model_on_meta_passes():
    peft_model = _apply(build_tiny_model("mistral", device="meta"), target_modules="all-linear")
    assert_device_placement(peft_model, device="meta")


def test_modules_to_save_copy_held_to_its_original():
    peft_model = _apply(build_tiny_model("opt", "sequence_classification"), target_modules=["q_proj"],
                        task_type="SEQ_CLS")
    peft_model.base_model.model.score.modules_to_save["default"].to("meta")
    with pytest.raises(AssertionError, match=r"score\.modules_to_save\.default\.weight: adapter on meta, "
                                             r"original module on cpu"):
        assert_device_placement(peft_model)


def test_float32_adapters_over_bf16_base_are_peft_default_but_fp16_are_not():
    peft_model = _apply(build_tiny_model("qwen2", dtype="bfloat16"), target_modules=["q_proj"])
    assert peft_model.base_model.model.model.layers[0].self_attn.q_proj.lora_A["default"].weight.dtype == torch.float32
    assert_device_placement(peft_model)
    peft_model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.to(torch.float16)
    with pytest.raises(AssertionError, match=r"q_proj\.lora_B\.default\.weight: adapter is torch.float16, "
                                             r"base weight is torch.bfloat16"):
        assert_device_placement(peft_model)
    assert_device_placement(peft_model, check_dtype=False)


def test_multihead_attention_adapters_are_checked():
    model = torch.nn.Sequential()
    model.add_module("attn", torch.nn.MultiheadAttention(16, 2))
    peft_model = _apply(model, target_modules=["attn"])
    assert_device_placement(peft_model, device="cpu")
    peft_model.base_model.model.attn.lora_B.to("meta")
    with pytest.raises(AssertionError, match=r"attn\.lora_B\.default\.weight: adapter on meta, base weight on cpu"):
        assert_device_placement(peft_model)


def test_weights_without_adapters_are_checked_against_the_device():
    # hostile testing D21: embeddings, head and every MLP on meta passed as device="cpu"
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"])
    model = peft_model.base_model.model
    model.model.embed_tokens.to("meta")
    model.lm_head.to("meta")
    for layer in model.model.layers:
        layer.mlp.to("meta")
    with pytest.raises(AssertionError, match="on meta .never loaded"):  # adapters sit with their base weights,
        assert_device_placement(peft_model)  # but the model is half loaded
    with pytest.raises(AssertionError) as failure:
        assert_device_placement(peft_model, device="cpu")
    message = str(failure.value)
    assert "adapter weight(s) misplaced" not in message
    assert "model.embed_tokens: weight on meta, expected cpu" in message
    assert "model.layers.1.mlp.down_proj: weight on meta, expected cpu" in message
    assert "lm_head: weight on meta, expected cpu" in message


def test_buffers_are_checked_too():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"])
    rotary = peft_model.base_model.model.model.rotary_emb
    rotary.inv_freq = rotary.inv_freq.to("meta")
    with pytest.raises(AssertionError, match="model.rotary_emb: inv_freq.* on meta, expected cpu"):
        assert_device_placement(peft_model, device="cpu")


def test_base_weights_left_on_meta_fail_without_a_device_too():
    # issue 13 item 2: without device=, a model half on meta (a partial load) passed
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"])
    model = peft_model.base_model.model
    model.model.embed_tokens.to("meta")
    model.model.layers[0].mlp.to("meta")
    with pytest.raises(AssertionError) as failure:
        assert_device_placement(peft_model)
    message = str(failure.value)
    assert message.startswith("4 module(s) with weights or buffers on meta (never loaded) while the rest")
    assert "  base_model.model.model.embed_tokens: weight on meta" in message
    assert "  base_model.model.model.layers.0.mlp.down_proj: weight on meta" in message
    assert "adapter" not in message
