"""The assertions for what breaks training (issue 13 item 3): each catches the real mistake on a tiny
offline model, and passes on the correct setup."""
from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from pytest_lora import (  # noqa: E402
    assert_adapter_roundtrip,
    assert_head_trainable,
    assert_lora_grads_flow,
    assert_merge_equivalent,
    assert_targets_cover,
    assert_trainable_dtypes,
)
from pytest_lora.coverage import covers  # noqa: E402
from pytest_lora.tiny_models import build_tiny_model, tiny_config  # noqa: E402


def _apply(model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(model, peft.LoraConfig(**kwargs))


def _vit_classifier():
    model = transformers.AutoModelForImageClassification.from_config(tiny_config("vit"))
    return _apply(model, r=4, target_modules=["q_proj", "v_proj"], modules_to_save=["classifier"])


# assert_lora_grads_flow

def test_grads_flow_on_a_fresh_adapter_whose_lora_b_is_still_zero():
    # lora_A's gradient is exactly zero while lora_B is at its zero initialization: not a finding
    peft_model = _apply(build_tiny_model("llama"), r=4, target_modules=["q_proj", "v_proj"])
    assert_lora_grads_flow(peft_model)


def test_reentrant_checkpointing_without_input_grads_is_caught():
    # a model whose main input is not token ids gets no input-grads hook from transformers: with
    # use_reentrant=True every LoRA weight inside a checkpointed block gets no gradient
    peft_model = _vit_classifier()
    with pytest.raises(AssertionError) as failure:
        assert_lora_grads_flow(peft_model, gradient_checkpointing={"use_reentrant": True})
    message = str(failure.value)
    assert message.startswith("8 of 10 adapter weight(s) get no usable gradient")
    assert "grad is None: reentrant gradient checkpointing (use_reentrant=True)" in message
    assert "  vit.layers.1.attention.v_proj.lora_B.default.weight" in message
    assert "classifier" not in message  # the head is outside the checkpointed blocks
    assert_lora_grads_flow(peft_model, gradient_checkpointing={"use_reentrant": False})
    peft_model.enable_input_require_grads()
    assert_lora_grads_flow(peft_model, gradient_checkpointing={"use_reentrant": True})


def test_the_check_leaves_mode_grads_and_checkpointing_as_they_were():
    peft_model = _vit_classifier().eval()
    with pytest.raises(AssertionError):
        assert_lora_grads_flow(peft_model, gradient_checkpointing={"use_reentrant": True})
    assert not peft_model.training
    assert all(p.grad is None for p in peft_model.parameters())
    assert not any(getattr(m, "gradient_checkpointing", False) for m in peft_model.modules())


def test_an_adapter_loaded_frozen_is_caught(tmp_path):
    _apply(build_tiny_model("llama"), r=4, target_modules=["q_proj"]).save_pretrained(tmp_path)
    frozen = peft.PeftModel.from_pretrained(build_tiny_model("llama"), tmp_path)
    with pytest.raises(AssertionError, match=r"(?s)4 of 4 .*requires_grad=False: a frozen adapter "
                                             r"\(PeftModel.from_pretrained loads one unless is_trainable=True\)"):
        assert_lora_grads_flow(frozen)
    assert_lora_grads_flow(peft.PeftModel.from_pretrained(build_tiny_model("llama"), tmp_path, is_trainable=True))


def test_grads_flow_through_seq2seq_and_classifier_heads():
    assert_lora_grads_flow(_apply(build_tiny_model("t5"), r=4, target_modules=["q", "v"], init_lora_weights=False))
    assert_lora_grads_flow(_apply(build_tiny_model("bert"), r=4, target_modules=["query"], task_type="SEQ_CLS"))


# assert_adapter_roundtrip

def _resized_llama(rows=260):
    model = build_tiny_model("llama")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.resize_token_embeddings(rows)
    return model


def test_roundtrip_of_a_plain_adapter_passes(tmp_path):
    assert_adapter_roundtrip(_apply(build_tiny_model("llama"), r=4, target_modules=["q_proj", "v_proj"],
                                    init_lora_weights=False), tmp_path)


def test_resized_embeddings_that_are_not_saved_are_caught(tmp_path):
    # the 4 rows added for new tokens are random at training time and random again, differently,
    # when the loading code resizes the base: the adapter alone does not restore the model
    peft_model = _apply(_resized_llama(), r=4, target_modules=["q_proj", "v_proj"])
    with pytest.raises(AssertionError) as failure:
        assert_adapter_roundtrip(peft_model, tmp_path / "a", base_vocab_size=256)
    message = str(failure.value)
    assert "differing tensors (2):" in message
    assert "  model.embed_tokens.weight: differs (rows 256-259: 4 of 260): frozen weight" in message
    assert "  lm_head.weight: differs (rows 256-259: 4 of 260)" in message
    assert_adapter_roundtrip(peft_model, tmp_path / "b", base_vocab_size=256, save_embedding_layers=True)
    saved = _apply(_resized_llama(), r=4, target_modules=["q_proj"], modules_to_save=["embed_tokens", "lm_head"])
    assert_adapter_roundtrip(saved, tmp_path / "c", base_vocab_size=256)


def test_trainable_tokens_on_an_untied_head_leave_its_new_rows_unsaved(tmp_path):
    peft_model = _apply(_resized_llama(), r=4, target_modules=["q_proj"], trainable_token_indices=[256, 257, 258, 259])
    with pytest.raises(AssertionError) as failure:
        assert_adapter_roundtrip(peft_model, tmp_path, base_vocab_size=256)
    assert "differing tensors (1):\n  lm_head.weight: differs (rows 256-259: 4 of 260)" in str(failure.value)


def test_a_head_unfrozen_by_hand_is_not_saved(tmp_path):
    peft_model = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj"])
    peft_model.base_model.model.score.weight.requires_grad_(True)
    with pytest.raises(AssertionError, match=r"score\.weight: differs \(rows 0-1: 2 of 2\): trained but not in the "
                                             r"saved adapter \(put its module in modules_to_save\)"):
        assert_adapter_roundtrip(peft_model, tmp_path)
    with_task = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj"],
                       task_type="SEQ_CLS")
    assert_adapter_roundtrip(with_task, tmp_path / "seq_cls")


def test_loading_onto_a_base_of_another_class_reports_missing_and_unexpected_keys(tmp_path):
    peft_model = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj"],
                        task_type="SEQ_CLS")
    with pytest.raises(AssertionError) as failure:
        assert_adapter_roundtrip(peft_model, tmp_path, base=lambda: build_tiny_model("llama", "base"))
    message = str(failure.value)
    assert "the rebuilt base is a LlamaModel, the trained model's a LlamaForSequenceClassification" in message
    assert "missing keys on loading (4):" in message
    assert "unexpected keys on loading (5):" in message
    assert "  base_model.model.score.weight" in message


def test_tied_embeddings_with_a_saved_embedding_copy_roundtrip(tmp_path):
    peft_model = _apply(build_tiny_model("gemma"), r=4, target_modules=["q_proj"], modules_to_save=["embed_tokens"])
    assert_adapter_roundtrip(peft_model, tmp_path)


# assert_merge_equivalent

def test_merge_of_a_plain_adapter_is_equivalent_and_the_model_untouched():
    peft_model = _apply(build_tiny_model("llama"), r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    assert assert_merge_equivalent(peft_model) < 1e-5
    assert isinstance(peft_model, peft.PeftModel) and peft_model.base_model.model.model.layers[0].self_attn.q_proj.merged is False


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_merge_into_a_16_bit_base_is_equivalent_within_its_rounding(dtype):
    peft_model = _apply(build_tiny_model("llama", dtype=dtype), r=4, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False)
    assert assert_merge_equivalent(peft_model) > 0  # rounded, and within the dtype's tolerance


def test_merging_into_an_embedding_tied_to_the_head_is_caught():
    peft_model = _apply(build_tiny_model("gemma"), r=4, target_modules=["q_proj", "embed_tokens"],
                        init_lora_weights=False)
    with pytest.raises(AssertionError) as failure:
        assert_merge_equivalent(peft_model)
    message = str(failure.value)
    assert message.startswith("outputs differ after merge_and_unload: max |difference| ")
    assert "allowed for float32 (atol 1e-05 + rtol 0.0001 x largest output" in message
    assert ("adapted weights shared with other modules:\n  model.embed_tokens: its base weight is also "
            "lm_head.weight, which merging changes too") in message


def test_merging_replicated_layers_is_caught():
    peft_model = _apply(build_tiny_model("llama"), r=4, target_modules=["q_proj"], init_lora_weights=False,
                        layer_replication=[[0, 2], [1, 2]])
    with pytest.raises(AssertionError, match=r"model\.layers\.2\.self_attn\.q_proj: its base weight is "
                                             r"model\.layers\.1\.self_attn\.q_proj's too, adapted twice"):
        assert_merge_equivalent(peft_model)


# assert_trainable_dtypes

def test_an_fp16_classifier_copy_under_fp16_amp_is_caught_as_the_grad_scaler_would():
    peft_model = _apply(build_tiny_model("llama", "sequence_classification", dtype="fp16"), r=4,
                        target_modules=["q_proj"], task_type="SEQ_CLS")
    with pytest.raises(AssertionError) as failure:
        assert_trainable_dtypes(peft_model, amp="fp16")
    message = str(failure.value)
    assert message.startswith("1 trainable tensor(s) cannot train under amp='fp16' (allowed: float32)")
    assert "a modules_to_save copy keeps its base's dtype" in message
    assert "  score.modules_to_save.default.weight: torch.float16" in message
    # what the assertion predicts is what torch's GradScaler does
    copy = peft_model.base_model.model.score.modules_to_save["default"].weight
    scaler, optimizer = torch.amp.GradScaler("cpu"), torch.optim.SGD([copy], lr=0.1)
    scaler.scale(copy.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(optimizer)


def test_lora_weights_left_in_fp16_are_caught_and_peft_default_float32_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = peft.get_peft_model(build_tiny_model("llama", dtype="fp16"),
                                   peft.LoraConfig(r=4, target_modules=["q_proj"]), autocast_adapter_dtype=False)
    for amp in ("fp16", "bf16", None):
        with pytest.raises(AssertionError, match=r"(?s)4 trainable tensor\(s\).*peft keeps LoRA weights in float32 "
                                                 r"unless autocast_adapter_dtype=False.*lora_B\.default\.weight: "
                                                 r"torch\.float16"):
            assert_trainable_dtypes(half, amp=amp)
    default = _apply(build_tiny_model("llama", dtype="bf16"), r=4, target_modules=["q_proj"])
    for amp in ("fp16", "bf16", None):
        assert_trainable_dtypes(default, amp=amp)
    with pytest.raises(ValueError, match="amp='fp32': expected 'fp16', 'bf16' or None"):
        assert_trainable_dtypes(default, amp="fp32")


# assert_targets_cover

def test_llama_style_mlp_names_miss_the_fused_experts_of_an_moe_model():
    # transformers 5 fuses the routed experts into parameters: gate/up/down_proj reach only the shared expert
    peft_model = _apply(build_tiny_model("qwen2_moe"), r=4, target_modules=["gate_proj", "up_proj", "down_proj"])
    with pytest.raises(AssertionError) as failure:
        assert_targets_cover(peft_model, expect=["experts"])
    message = str(failure.value)
    assert ("expected an adapter under 'experts', none is there; the model's modules named so:\n"
            "  model.layers.0.mlp.experts: Qwen2MoeExperts, parameters gate_up_proj, down_proj "
            "(reach them with target_parameters)") in message
    assert "adapted modules: model.layers.0.mlp.shared_expert.gate_proj" in message
    reached = _apply(build_tiny_model("qwen2_moe"), r=4, target_modules=["q_proj"],
                     target_parameters=["mlp.experts.gate_up_proj", "mlp.experts.down_proj"])
    assert "model.layers.1.mlp.experts" in assert_targets_cover(reached, expect=["experts", "q_proj"])


def test_all_linear_on_a_vision_language_model_adapts_the_vision_tower():
    peft_model = _apply(build_tiny_model("gemma3"), r=4, target_modules="all-linear")
    with pytest.raises(AssertionError, match=r"'vision_tower' must not be adapted, but 15 adapted module\(s\) are "
                                             r"under it:\n  model\.vision_tower\.encoder\.layers\.0\.self_attn"):
        assert_targets_cover(peft_model, expect=["language_model"], forbid=["vision_tower"])
    text_only = _apply(build_tiny_model("gemma3"), r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)")
    assert_targets_cover(text_only, expect=["language_model.layers.*.self_attn.q_proj"], forbid="vision_tower")


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("experts", "model.layers.0.mlp.experts", True),
    ("experts", "model.layers.0.mlp.shared_expert.up_proj", False),
    ("layers.*.mlp", "model.layers.3.mlp.down_proj", True),
    ("vision_tower", "model.vision_tower.encoder.layers.0.fc1", True),
    ("q_proj", "model.layers.0.self_attn.q_proj_extra", False),
    ("self_attn.q*", "model.layers.0.self_attn.q_proj", True),
])
def test_patterns_are_runs_of_name_parts(pattern, name, expected):
    assert covers(pattern, name) is expected


# assert_head_trainable

def test_a_classifier_without_task_type_keeps_a_frozen_random_head():
    peft_model = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj"])
    with pytest.raises(AssertionError, match=r"the head score \(Linear: weight \(2, 64\)\) is frozen: it keeps its "
                                             r"random initialization .*pass task_type='SEQ_CLS' \(peft then trains "
                                             r"and saves it\) or modules_to_save=\['score'\]"):
        assert_head_trainable(peft_model)
    for fix in ({"task_type": "SEQ_CLS"}, {"modules_to_save": ["score"]}):
        fixed = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj"], **fix)
        assert assert_head_trainable(fixed) == "score"


def test_a_head_adapted_by_lora_only_or_unfrozen_by_hand_is_caught():
    lora_head = _apply(build_tiny_model("llama", "sequence_classification"), r=4, target_modules=["q_proj", "score"])
    with pytest.raises(AssertionError, match="the head score .* is adapted by LoRA only"):
        assert_head_trainable(lora_head)
    by_hand = _apply(build_tiny_model("bert"), r=4, target_modules=["query"])
    by_hand.base_model.model.classifier.requires_grad_(True)
    with pytest.raises(AssertionError, match=r"the head classifier \(Linear: weight \(2, 64\), bias \(2,\)\) requires "
                                             r"grad but is not in modules_to_save"):
        assert_head_trainable(by_hand)


def test_seq_cls_leaves_an_encoder_decoder_classification_head_frozen():
    # peft's SEQ_CLS wraps only heads named classifier or score: BART's classification_head stays random
    peft_model = _apply(build_tiny_model("bart", "sequence_classification"), r=4, target_modules=["q_proj"],
                        task_type="SEQ_CLS")
    with pytest.raises(AssertionError, match=r"the head classification_head \(BartClassificationHead: .*\) is frozen: "
                                             r".*pass modules_to_save=\['classification_head'\] \(task_type='SEQ_CLS' "
                                             r"wraps only classifier, score\)"):
        assert_head_trainable(peft_model)
    fixed = _apply(build_tiny_model("bart", "sequence_classification"), r=4, target_modules=["q_proj"],
                   task_type="SEQ_CLS", modules_to_save=["classification_head"])
    assert assert_head_trainable(fixed) == "classification_head"
    assert_lora_grads_flow(fixed)


def test_an_image_classifier_head_and_a_model_without_one():
    assert assert_head_trainable(_vit_classifier()) == "classifier"
    lm = _apply(build_tiny_model("llama"), r=4, target_modules=["q_proj"])
    with pytest.raises(ValueError, match=r"LlamaForCausalLM has none of the head attributes .* pass head="):
        assert_head_trainable(lm)


# as a user sees them

def test_a_failing_assertion_shows_the_users_line_and_the_message(pytester):
    pytester.makepyfile("""
        from pytest_lora import assert_head_trainable

        def test_head(lora_tiny_model, lora_apply):
            peft_model = lora_apply(lora_tiny_model("llama", "sequence_classification"), target_modules=["q_proj"])
            assert_head_trainable(peft_model)
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ">       assert_head_trainable(peft_model)",
        "E       AssertionError: the head score (Linear: weight (2, 64)) is frozen: *",
    ])
    assert "pytest_lora/heads.py" not in result.stdout.str()
