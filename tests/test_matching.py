"""peft's target_modules matching, predicted from the recorded architectures.

The comparison tests build tiny random models with the installed torch/transformers,
apply ``LoraConfig`` with the installed peft, and check that ``match_target_modules``
on the recorded data (scaled to the tiny layer count) names exactly the modules peft
adapted, the parameters it targeted, and whether and why it raised.
"""
from __future__ import annotations

import os

import pytest

from lint_rules.knowledge import architectures, matching
from lint_rules.knowledge.matching import match_target_modules, suggest_equivalent

V4, V5 = "4.57.6", "5.24.0"


def arch(model_type, task="causal_lm", transformers=V5, layers=2):
    found = architectures.get_architecture(model_type, task, transformers)
    assert found is not None, model_type
    return found.with_layers(layers)


# --- semantics on the data alone (stdlib only) ---

def test_list_entry_matches_exact_name_or_dot_suffix():
    llama = arch("llama")
    result = match_target_modules(["q_proj", "model.layers.1.mlp.down_proj", "proj"], llama)
    assert result.matched["q_proj"] == ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"]
    assert result.matched["model.layers.1.mlp.down_proj"] == ["model.layers.1.mlp.down_proj"]
    assert result.unmatched == ["proj"]  # no module is named "proj" or ends in ".proj"
    assert result.any_match


def test_string_is_a_full_regex_match():
    llama = arch("llama")
    assert match_target_modules("q_proj", llama).any_match is False  # not a full name
    result = match_target_modules(r".*\.1\.self_attn\.(q|v)_proj", llama)
    assert result.targeted == ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]


def test_all_linear_skips_the_output_head_and_exists_from_peft_0_8():
    gpt2 = arch("gpt2")
    result = match_target_modules("all-linear", gpt2)
    assert "lm_head" not in result.targeted
    assert {n.rsplit(".", 1)[-1] for n in result.targeted} == {"c_attn", "c_proj", "c_fc"}
    assert match_target_modules("all-linear", gpt2, peft_version="0.7.1").any_match is False


def test_old_peft_matched_list_entries_as_plain_suffixes():
    llama = arch("llama")
    assert match_target_modules(["proj"], llama, peft_version="0.4.0").any_match
    assert not match_target_modules(["proj"], llama, peft_version="0.6.0").any_match


def test_a_matched_norm_is_reported_as_unsupported():
    result = match_target_modules(["q_proj", "input_layernorm"], arch("llama"))
    assert result.unsupported == ["model.layers.0.input_layernorm", "model.layers.1.input_layernorm"]
    assert "not supported" in result.peft_error()


def test_invalid_regex_is_an_error_not_a_match():
    result = match_target_modules("(q_proj", arch("llama"))
    assert not result.any_match and result.error.startswith("invalid regex")


def test_layers_to_transform_reads_the_layer_index_since_peft_0_20():
    mixtral = arch("mixtral", transformers=V4)
    new = match_target_modules(["w1"], mixtral, layers_to_transform=[1])
    assert new.targeted == [f"model.layers.1.block_sparse_moe.experts.{j}.w1" for j in range(8)]
    old = match_target_modules(["w1"], mixtral, layers_to_transform=[1], peft_version="0.19.1")
    assert old.targeted == [f"model.layers.{i}.block_sparse_moe.experts.1.w1" for i in range(2)]
    assert not match_target_modules(["q_proj"], arch("llama"), layers_to_transform=[0],
                                    layers_pattern="h").any_match


def test_exclude_modules_counts_from_peft_0_14():
    llama = arch("llama")
    new = match_target_modules(["q_proj"], llama, exclude_modules=["model.layers.0.self_attn.q_proj"])
    assert new.targeted == ["model.layers.1.self_attn.q_proj"]
    old = match_target_modules(["q_proj"], llama, peft_version="0.13.2", exclude_modules=["q_proj"])
    assert len(old.targeted) == 2


def test_an_entry_equal_to_the_name_ignores_layers_to_transform_since_peft_0_8():
    llama = arch("llama")
    exact = "model.layers.0.self_attn.q_proj"
    result = match_target_modules([exact, "v_proj"], llama, layers_to_transform=[1])
    assert result.targeted == [exact, "model.layers.1.self_attn.v_proj"]
    old = match_target_modules([exact, "v_proj"], llama, layers_to_transform=[1], peft_version="0.7.1")
    assert old.targeted == ["model.layers.1.self_attn.v_proj"]


def test_only_seq_cls_heads_are_kept_from_targets():
    names = ["bert.pooler.dense", "classifier", "qa_outputs"]
    assert matching.excluded_names(names, task_type="SEQ_CLS") == {"classifier"}
    # TOKEN_CLS and QUESTION_ANS add their heads after injecting the adapters
    assert matching.excluded_names(names, task_type="TOKEN_CLS") == set()
    assert matching.excluded_names(names, task_type="QUESTION_ANS") == set()
    assert matching.excluded_names(names, task_type="SEQ_CLS", peft_version="0.15.2") == set()


def test_saved_entries_add_the_task_heads():
    assert matching.saved_entries(["lm_head"], "TOKEN_CLS") == ["lm_head", "classifier", "score"]
    assert matching.saved_entries(None, "QUESTION_ANS") == ["qa_outputs"]
    assert matching.saved_entries(None, "QUESTION_ANS", "0.3.0") == []
    assert matching.saved_entries(["score"], "SEQ_CLS") == ["score", "classifier"]
    assert matching.saved_entries(None, "CAUSAL_LM") == []


def test_saved_names_are_a_plain_suffix_and_exclusion_a_segment_match():
    names = ["", "classifier", "classifier.dense", "cls_classifier"]
    assert matching.saved_names(names, ["classifier"]) == ["classifier", "cls_classifier"]
    assert matching.excluded_names(names, modules_to_save=["classifier"]) == {"classifier", "classifier.dense"}


def test_a_saved_module_that_got_a_lora_layer_is_refused_since_peft_0_13():
    assert matching.wrapped_adapted(["classifier", "score"], {"classifier"}) == ["classifier"]
    assert matching.wrapped_adapted(["classifier"], {"classifier"}, "0.12.0") == []


def test_all_linear_targets_full_names_since_peft_0_15():
    linear = ["h.0.attn.c_attn", "h.1.attn.c_attn", "score"]
    assert matching.all_linear_targets(linear, [], ["score"], task_type="SEQ_CLS") == linear[:2]
    assert matching.all_linear_targets(linear, [], ["score"]) == linear
    assert matching.all_linear_targets(linear, [], ["score"], task_type="SEQ_CLS",
                                       peft_version="0.14.0") == ["c_attn"]
    assert matching.all_linear_targets(linear, [], ["score"], task_type="SEQ_CLS",
                                       peft_version="0.12.0") == ["c_attn", "score"]


def test_mixtral_v4_expert_names_become_fused_parameters_on_transformers_5():
    v4 = match_target_modules(["w1", "w2", "w3"], arch("mixtral", transformers=V4))
    assert len(v4.targeted) == 2 * 8 * 3 and not v4.converted
    v5 = match_target_modules(["w1", "w2", "w3"], arch("mixtral"))
    assert v5.targeted == [] and v5.converted == {"w1": ["gate_up_proj"], "w2": ["down_proj"],
                                                  "w3": ["gate_up_proj"]}
    assert v5.parameters["gate_up_proj"] == ["model.layers.0.mlp.experts.gate_up_proj",
                                             "model.layers.1.mlp.experts.gate_up_proj"]
    assert v5.any_match
    # before peft 0.19 nothing was remapped: the v4 names find nothing
    assert not match_target_modules(["w1", "w2", "w3"], arch("mixtral"), peft_version="0.18.1").any_match
    assert "fused" in match_target_modules(["w1"], arch("mixtral")).peft_error()


@pytest.mark.parametrize(
    "model_type, entries, expected",
    [
        ("gpt2", ["q_proj", "v_proj"], ["c_attn"]),
        ("falcon", ["q_proj", "v_proj"], ["query_key_value"]),
        ("bloom", ["q_proj", "v_proj"], ["query_key_value"]),
        ("gpt_neox", ["q_proj", "v_proj"], ["query_key_value"]),
        ("phi3", ["q_proj", "k_proj", "v_proj"], ["qkv_proj"]),
        ("phi3", ["gate_proj", "up_proj", "down_proj"], ["gate_up_proj", "down_proj"]),
        ("gpt2", ["o_proj"], ["attn.c_proj"]),  # c_proj alone would also reach the MLP's
        ("llama", ["c_attn"], ["q_proj", "k_proj", "v_proj"]),
        ("t5", ["q_proj", "v_proj"], ["q", "v"]),
        ("bert", ["q_proj", "v_proj"], ["query", "value"]),
        ("distilbert", ["q_proj", "v_proj", "fc1", "fc2"], ["q_lin", "v_lin", "lin1", "lin2"]),
    ],
)
def test_suggest_equivalent_names(model_type, entries, expected):
    assert suggest_equivalent(entries, arch(model_type)) == expected


def test_suggest_llama_mlp_names_on_mixtral_4():
    mixtral = arch("mixtral", transformers=V4)
    assert suggest_equivalent(["gate_proj", "up_proj", "down_proj"], mixtral) == ["w1", "w3", "w2"]


def test_suggest_nothing_when_unsure_or_already_right():
    assert suggest_equivalent(["q_proj", "v_proj"], arch("llama")) is None  # they exist
    assert suggest_equivalent(["frobnicate"], arch("llama")) is None
    # BERT's MLP output is "output.dense", a suffix shared with attention.output.dense
    assert suggest_equivalent(["down_proj"], arch("bert", "base")) is None


# --- comparison with peft itself ---

TINY = {  # small configs: 2 layers, small widths
    "gpt2": dict(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32),
    "llama": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                  num_key_value_heads=1, vocab_size=64),
    "phi3": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                 num_key_value_heads=2, vocab_size=64, pad_token_id=0),
    "bloom": dict(n_layer=2, hidden_size=32, n_head=2, vocab_size=64),
    "falcon": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, vocab_size=64),
    "mixtral": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                    num_key_value_heads=1, vocab_size=64, num_local_experts=8),
    "qwen3_moe": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, moe_intermediate_size=8,
                      num_attention_heads=2, num_key_value_heads=1,  # default expert count
                      head_dim=16, vocab_size=64),
    "bert": dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                 vocab_size=64),
    "t5": dict(num_layers=2, num_decoder_layers=2, d_model=32, d_kv=8, d_ff=64, num_heads=2, vocab_size=64),
}
# (model_type, task, name): target_modules
CASES = {
    ("gpt2", "causal_lm", "suffix"): ["c_attn"],
    ("gpt2", "causal_lm", "exact"): ["transformer.h.1.mlp.c_fc"],
    ("gpt2", "causal_lm", "regex"): r"transformer\.h\.0\..*c_proj",
    ("gpt2", "causal_lm", "all-linear"): "all-linear",
    ("gpt2", "causal_lm", "partial"): ["c_attn", "q_proj"],
    ("gpt2", "causal_lm", "mismatch"): ["q_proj", "v_proj"],
    ("gpt2", "causal_lm", "norm"): ["ln_1"],
    ("llama", "causal_lm", "suffix"): ["q_proj", "v_proj"],
    ("llama", "causal_lm", "exact"): ["model.layers.0.mlp.down_proj"],
    ("llama", "causal_lm", "regex"): r"model\.layers\.1\.self_attn\.(k|o)_proj",
    ("llama", "causal_lm", "all-linear"): "all-linear",
    ("llama", "causal_lm", "partial"): ["q_proj", "c_attn"],
    ("llama", "causal_lm", "mismatch"): ["c_attn"],
    ("llama", "causal_lm", "norm"): ["input_layernorm"],
    ("llama", "sequence_classification", "all-linear"): "all-linear",
    ("phi3", "causal_lm", "suffix"): ["qkv_proj"],
    ("phi3", "causal_lm", "exact"): ["model.layers.1.mlp.gate_up_proj"],
    ("phi3", "causal_lm", "all-linear"): "all-linear",
    ("phi3", "causal_lm", "mismatch"): ["q_proj", "v_proj"],
    ("bloom", "causal_lm", "suffix"): ["query_key_value"],
    ("bloom", "causal_lm", "regex"): r".*self_attention\.dense",
    ("bloom", "causal_lm", "all-linear"): "all-linear",
    ("bloom", "causal_lm", "mismatch"): ["q_proj"],
    ("falcon", "causal_lm", "suffix"): ["query_key_value", "dense"],
    ("falcon", "causal_lm", "all-linear"): "all-linear",
    ("falcon", "causal_lm", "partial"): ["dense_h_to_4h", "c_fc"],
    ("mixtral", "causal_lm", "suffix"): ["q_proj", "v_proj"],
    ("mixtral", "causal_lm", "experts"): ["w1", "w2", "w3"],
    ("mixtral", "causal_lm", "half-fused"): ["w1", "w2"],
    ("mixtral", "causal_lm", "regex"): r".*\.0\.self_attn\.o_proj",
    ("mixtral", "causal_lm", "all-linear"): "all-linear",
    ("mixtral", "causal_lm", "mismatch"): ["gate_proj", "up_proj"],
    ("qwen3_moe", "causal_lm", "suffix"): ["q_proj", "gate_proj", "up_proj", "down_proj"],
    ("qwen3_moe", "causal_lm", "half-fused"): ["q_proj", "gate_proj"],
    ("qwen3_moe", "causal_lm", "regex"): r".*\.1\..*(up|k)_proj",
    ("qwen3_moe", "causal_lm", "all-linear"): "all-linear",
    ("bert", "base", "suffix"): ["query", "value"],
    ("bert", "base", "exact"): ["encoder.layer.0.attention.output.dense"],
    ("bert", "base", "all-linear"): "all-linear",
    ("bert", "base", "norm"): ["LayerNorm"],
    ("bert", "causal_lm", "all-linear"): "all-linear",  # head nested: cls.predictions.decoder
    ("t5", "seq2seq_lm", "suffix"): ["q", "v"],
    ("t5", "seq2seq_lm", "regex"): r"decoder\..*EncDecAttention\.(k|v)",
    ("t5", "seq2seq_lm", "all-linear"): "all-linear",
    ("t5", "seq2seq_lm", "mismatch"): ["q_proj"],
    # (target_modules, further LoraConfig keywords)
    ("llama", "causal_lm", "layers"): (["q_proj", "v_proj"], {"layers_to_transform": [1]}),
    ("llama", "causal_lm", "layers-pattern"): (["q_proj"], {"layers_to_transform": 1, "layers_pattern": "layers"}),
    ("llama", "causal_lm", "layers-other-pattern"): (["q_proj"], {"layers_to_transform": [0], "layers_pattern": "h"}),
    ("gpt2", "causal_lm", "layers"): (["c_attn", "c_fc"], {"layers_to_transform": [0]}),
    ("mixtral", "causal_lm", "layers"): (["w1", "w2", "w3", "o_proj"], {"layers_to_transform": [1]}),
    ("t5", "seq2seq_lm", "layers"): (["q"], {"layers_to_transform": [1], "layers_pattern": "block"}),
    ("llama", "causal_lm", "layers-exact"): (["model.layers.0.self_attn.q_proj", "v_proj"],
                                             {"layers_to_transform": [1]}),
}
AUTO = {"causal_lm": "AutoModelForCausalLM", "seq2seq_lm": "AutoModelForSeq2SeqLM",
        "sequence_classification": "AutoModelForSequenceClassification", "base": "AutoModel"}
TASK_TYPE = {"causal_lm": "CAUSAL_LM", "seq2seq_lm": "SEQ_2_SEQ_LM", "sequence_classification": "SEQ_CLS",
             "base": None}


@pytest.fixture(scope="module")
def hf():
    """torch, transformers and peft, imported here only; offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    transformers.logging.set_verbosity_error()
    if transformers.__version__ not in architectures.transformers_versions():
        pytest.skip(f"no architecture data for transformers {transformers.__version__}")
    return torch, transformers, peft


def _case(key):
    """(target_modules, further keywords) of a case."""
    case = CASES[key]
    return case if isinstance(case, tuple) else (case, {})


def _peft_outcome(hf, model_type, task, target, **keywords):
    """(adapted module names, targeted parameter names, error message or None)."""
    torch, transformers, peft = hf
    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(model_type, **TINY[model_type])
    model = getattr(transformers, AUTO[task]).from_config(config)
    lora = peft.LoraConfig(r=2, lora_alpha=4, target_modules=target, task_type=TASK_TYPE[task], **keywords)
    try:
        tuned = peft.get_peft_model(model, lora)
    except ValueError as exc:
        return None, None, str(exc)
    inner = tuned.base_model.model
    adapted = sorted(n for n, m in inner.named_modules()
                     if hasattr(m, "lora_A") and type(m).__name__ != "ParamWrapper")
    return adapted, sorted(getattr(tuned.base_model, "targeted_parameter_names", [])), None


@pytest.mark.parametrize("key", sorted(CASES), ids="-".join)
def test_prediction_equals_peft(hf, key):
    model_type, task, _ = key
    _, transformers, peft = hf
    data = arch(model_type, task, transformers.__version__,
                layers=TINY[model_type].get("num_hidden_layers", 2))
    assert data.task == task
    target, keywords = _case(key)
    predicted = match_target_modules(target, data, peft_version=peft.__version__,
                                     task_type=TASK_TYPE[task], **keywords)
    adapted, parameters, error = _peft_outcome(hf, model_type, task, target, **keywords)
    expected_error = predicted.peft_error()
    if expected_error is None:
        assert error is None
        assert adapted == sorted(predicted.targeted)
        assert parameters == sorted(p for ps in predicted.parameters.values() for p in ps)
    else:
        assert error is not None, f"peft adapted {adapted} {parameters}; predicted: {expected_error}"
        if not predicted.any_match:
            assert "not found" in error or "Cannot convert" in error or "No modules" in error
        else:
            assert "is not supported" in error


@pytest.mark.parametrize("model_type, task", sorted({(m, t) for m, t, _ in CASES}))
def test_names_and_kinds_equal_the_built_model(hf, model_type, task):
    """The expanded patterns are exactly ``named_modules()`` of a small model, kinds included."""
    torch, transformers, _ = hf
    config = transformers.AutoConfig.for_model(model_type, **TINY[model_type])
    model = getattr(transformers, AUTO[task]).from_config(config)
    data = arch(model_type, task, transformers.__version__)
    kind = {n: m.cls for m in data.modules for n in m.names()}
    built = {n: m for n, m in model.named_modules() if n}
    assert sorted(built) == sorted(kind)
    linear = (torch.nn.Linear, transformers.pytorch_utils.Conv1D)
    assert {n for n, m in built.items() if isinstance(m, linear)} == \
        {n for n, k in kind.items() if k in ("Linear", "Conv1D")}
    assert {n for n, m in built.items() if isinstance(m, torch.nn.Embedding)} == \
        {n for n, k in kind.items() if k == "Embedding"}
