"""The recorded architectures hold known facts about transformers models."""
from __future__ import annotations

import pytest

from lint_rules.knowledge import architectures as arch
from lint_rules.knowledge.architectures import get_architecture

V4, V5 = "4.57.6", "5.24.0"
VERSIONS = (V4, V5)


def kinds(a, leaf):
    return {m.cls for m in a.modules if m.leaf == leaf}


def test_both_major_versions_have_data():
    assert set(VERSIONS) <= set(arch.transformers_versions())


# 5.24.0's causal-LM auto mapping names 196 model types, 4.57.6's only 139
CAUSAL_LM_AT_LEAST = {V4: 120, V5: 170}


@pytest.mark.parametrize("version", VERSIONS)
def test_most_causal_lm_model_types_are_covered(version):
    covered = [t for t in arch.model_types(version) if "causal_lm" in arch.tasks(t, version)]
    assert len(covered) >= CAUSAL_LM_AT_LEAST[version]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_failure_names_model_type_task_and_reason(version):
    failures = arch.failures(version)
    tasks = set(arch.TASKS) | {"config"}
    for key, reason in failures.items():
        model_type, _, task = key.partition("/")
        assert model_type and task in tasks, key
        kind, _, message = reason.partition(": ")
        assert kind.isidentifier() and kind[0].isupper(), reason


@pytest.mark.parametrize("version", VERSIONS)
def test_gpt2_uses_transformers_conv1d(version):
    gpt2 = get_architecture("gpt2", transformers=version)
    for leaf in ("c_attn", "c_proj", "c_fc"):
        assert kinds(gpt2, leaf) == {"Conv1D"}
    assert gpt2.heads()[0].pattern == "lm_head" and gpt2.heads()[0].cls == "Linear"


@pytest.mark.parametrize("version", VERSIONS)
def test_phi3_fuses_qkv_and_gate_up(version):
    phi3 = get_architecture("phi3", transformers=version)
    leaves = phi3.leaf_names()
    assert "qkv_proj" in leaves and "gate_up_proj" in leaves
    assert not {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"} & set(leaves)


def test_mixtral_experts_are_linear_in_4x():
    mixtral = get_architecture("mixtral", transformers=V4)
    experts = [m for m in mixtral.modules if m.leaf in ("w1", "w2", "w3")]
    assert {m.cls for m in experts} == {"Linear"}
    assert experts[0].pattern == "model.layers.{i}.block_sparse_moe.experts.{j}.w1"
    assert experts[0].specs == (32, 8)  # 32 layers, 8 local experts by default


def test_mixtral_experts_are_fused_parameters_in_5x():
    mixtral = get_architecture("mixtral", transformers=V5)
    assert not {"w1", "w2", "w3"} & set(mixtral.leaf_names())
    (experts,) = [m for m in mixtral.modules if m.leaf == "experts"]
    assert not experts.targetable
    assert set(experts.params) == {"gate_up_proj", "down_proj"}
    assert mixtral.conversion is not None  # transformers converts v4 checkpoints for it


@pytest.mark.parametrize("version", VERSIONS)
def test_llama_pattern_layers_and_head(version):
    llama = get_architecture("llama", transformers=version)
    q = next(m for m in llama.modules if m.leaf == "q_proj")
    assert q.pattern == "model.layers.{i}.self_attn.q_proj" and q.cls == "Linear"
    assert llama.num_layers == 32  # LlamaConfig() is Llama-2-7B shaped
    assert [m.pattern for m in llama.heads()] == ["lm_head"]
    names = llama.names()
    assert "model.layers.31.mlp.down_proj" in names and "model.layers.32.mlp.down_proj" not in names


def test_sequence_classification_head_is_score_or_classifier():
    assert get_architecture("llama", "sequence_classification").classifier == "score"
    assert get_architecture("bert", "sequence_classification").classifier == "classifier"
    assert get_architecture("llama", "sequence_classification").output_heads() == []


def test_heterogeneous_blocks_keep_their_indices():
    # T5's first block alone holds the relative attention bias
    t5 = get_architecture("t5", "seq2seq_lm")
    names = t5.names()
    assert "encoder.block.0.layer.0.SelfAttention.relative_attention_bias" in names
    assert "encoder.block.1.layer.0.SelfAttention.relative_attention_bias" not in names
    assert "encoder.block.5.layer.1.DenseReluDense.wo" in names
    small = t5.with_layers(2).names()
    assert "encoder.block.1.layer.1.DenseReluDense.wo" in small
    assert "encoder.block.2.layer.1.DenseReluDense.wo" not in small


def test_missing_task_class_falls_back_to_the_base_model():
    t5 = get_architecture("t5", "causal_lm")
    assert t5.task == "base" and t5.class_name == "T5Model"
    assert get_architecture("no-such-model") is None
    with pytest.raises(ValueError):
        get_architecture("llama", "token_classification")


def test_pick_transformers(monkeypatch):
    assert arch.pick_transformers(V4) == V4
    assert arch.pick_transformers("4.46.0") == V4  # same major version
    assert arch.pick_transformers("<5") == V4
    assert arch.pick_transformers("==4.46.*") == V4
    assert arch.pick_transformers(">=4.40") == V5
    monkeypatch.setattr(arch, "installed_transformers", lambda: "4.51.3")
    assert arch.pick_transformers() == V4
    monkeypatch.setattr(arch, "installed_transformers", lambda: None)
    assert arch.pick_transformers() == arch.transformers_versions()[-1]


def test_data_files_are_compact():
    for path in arch.DATA.glob("transformers-*.json"):
        assert path.stat().st_size < 3_000_000, path.name


@pytest.mark.parametrize("version", VERSIONS)
def test_no_model_class_is_dropped_silently(version):
    """Every (model type, task) the auto mappings name is recorded or listed as failed."""
    transformers = pytest.importorskip("transformers")
    if transformers.__version__ != version:
        pytest.skip(f"checks the installed transformers ({transformers.__version__})")
    from transformers.models.auto import configuration_auto, modeling_auto

    mappings = {"causal_lm": modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                "seq2seq_lm": modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
                "sequence_classification": modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
                "base": modeling_auto.MODEL_MAPPING_NAMES}
    failures = arch.failures(version)
    for model_type in configuration_auto.CONFIG_MAPPING_NAMES:
        for task, mapping in mappings.items():
            if model_type in mapping:
                recorded = task in arch.tasks(model_type, version)
                assert recorded or f"{model_type}/{task}" in failures or \
                    f"{model_type}/config" in failures, (model_type, task)
