"""expected_trainable_params / assert_trainable_params / assert_base_frozen, on real peft models."""
from __future__ import annotations

import copy
import warnings

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

import pytest_lora  # noqa: E402
from pytest_lora import (  # noqa: E402
    assert_base_frozen,
    assert_trainable_params,
    expected_trainable_params,
)
from pytest_lora.tiny_models import build_tiny_model  # noqa: E402


def _apply(model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(model, peft.LoraConfig(**kwargs))


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.grouped = torch.nn.Conv2d(8, 8, kernel_size=(3, 1), groups=2)
        self.emb = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 4)
        self.conv1d = torch.nn.Conv1d(4, 6, kernel_size=5)
        self.conv3d = torch.nn.Conv3d(2, 4, kernel_size=(1, 2, 3), bias=False)
        self.attn = torch.nn.MultiheadAttention(16, 2)


@pytest.mark.parametrize("kwargs", [
    {"target_modules": ["conv", "grouped"], "r": 4},
    {"target_modules": ["conv", "emb", "head"], "r": 2, "use_dora": True},
    {"target_modules": ["conv", "head"], "r": 4, "bias": "lora_only", "lora_bias": True},
    {"target_modules": ["emb"], "r": 4, "modules_to_save": ["head"], "bias": "all"},
    {"target_modules": ["conv1d", "conv3d"], "r": 3, "use_dora": True, "rank_pattern": {"conv3d": 5}},
    {"target_modules": ["attn", "head"], "r": 4, "bias": "lora_only", "rank_pattern": {"attn": 2}},
    {"target_modules": ["attn"], "r": 2, "lora_bias": True, "bias": "all"},
])
def test_conv_embedding_linear_shapes_match_peft(kwargs):
    expected = expected_trainable_params(ConvNet(), kwargs)
    real, _ = _apply(ConvNet(), **kwargs).get_nb_trainable_parameters()
    assert expected == real


@pytest.mark.parametrize(("model_type", "kwargs"), [
    ("llama", {"target_modules": ["q_proj", "down_proj"], "layers_to_transform": 0, "layers_pattern": "layers"}),
    ("gpt2", {"target_modules": ["c_attn"], "layers_to_transform": [1], "layers_pattern": ["h"]}),
    ("llama", {"target_modules": ["q_proj"], "layers_to_transform": [0], "layers_pattern": "nope"}),
    ("llama", {"target_modules": r".*layers\.1\..*_proj",
               "rank_pattern": {r"layers\.1\.mlp\..*": 2}, "alpha_pattern": {"q_proj": 3}}),
])
def test_layer_selection_matches_peft(model_type, kwargs):
    model = build_tiny_model(model_type)
    try:
        real, _ = _apply(build_tiny_model(model_type), **kwargs).get_nb_trainable_parameters()
    except ValueError:
        with pytest.raises(ValueError):
            expected_trainable_params(model, kwargs)
        return
    assert expected_trainable_params(model, kwargs) == real


def test_published_llama2_7b_count(lora_skeleton):
    # peft's documentation and countless model cards: r=8 on q_proj/v_proj of Llama-2-7b
    model = lora_skeleton("meta-llama/Llama-2-7b-hf")
    assert expected_trainable_params(model, {"r": 8, "target_modules": ["q_proj", "v_proj"]}) == 4_194_304


def test_published_llama2_7b_all_linear_r16_count(lora_skeleton):
    # "trainable params: 39,976,960 || all params: 6,778,392,576" (QLoRA-style all-linear r=16 runs)
    model = lora_skeleton("meta-llama/Llama-2-7b-hf")
    assert expected_trainable_params(model, {"r": 16, "target_modules": "all-linear"}) == 39_976_960


def test_counting_leaves_model_and_config_untouched():
    model = build_tiny_model("llama")
    config = peft.LoraConfig(target_modules="all-linear", r=4)
    before = [name for name, _ in model.named_modules()]
    expected_trainable_params(model, config)
    assert [name for name, _ in model.named_modules()] == before
    assert config.target_modules == "all-linear"
    kwargs = {"target_modules": ["q_proj", "v_proj"], "rank_pattern": {"v_proj": 2}, "modules_to_save": ["lm_head"],
              "layers_to_transform": [1]}
    snapshot = copy.deepcopy(kwargs)
    expected_trainable_params(model, kwargs)
    assert kwargs == snapshot


@pytest.mark.parametrize(("make", "kwargs"), [
    # "encoder.block" ends with "k": peft wraps the ModuleList for modules_to_save and refuses
    (lambda: build_tiny_model("t5"), {"target_modules": ["q"], "modules_to_save": ["k"]}),
    (ConvNet, {"target_modules": ["emb"], "lora_bias": True}),
    (ConvNet, {"target_modules": ["head"], "bias": "some"}),
    (ConvNet, {"target_modules": ["nothing_here"]}),
    (ConvNet, {"target_modules": ["attn"], "use_dora": True}),
    (lambda: build_tiny_model("llama"), {"target_modules": ["self_attn"]}),  # not a layer LoRA can wrap
])
def test_refusals_match_peft(make, kwargs):
    with pytest.raises(Exception) as by_peft:
        _apply(make(), **kwargs)
    with pytest.raises(Exception) as by_us:
        expected_trainable_params(make(), kwargs)
    assert isinstance(by_peft.value, type(by_us.value))  # peft may raise a subclass (NoMatchingPeftModuleError)


def test_assert_trainable_params_passes_and_returns_the_count():
    peft_model = _apply(build_tiny_model("gpt2"), target_modules=["c_attn"], r=4)
    real, _ = peft_model.get_nb_trainable_parameters()
    assert assert_trainable_params(peft_model) == real
    assert assert_trainable_params(peft_model, expected=real) == real


def test_assert_trainable_params_names_modules_on_failure():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"], r=4)
    layer = peft_model.base_model.model.model.layers[0]
    layer.mlp.down_proj.weight.requires_grad_(True)
    for param in layer.self_attn.v_proj.lora_B.parameters():
        param.requires_grad_(False)
    with pytest.raises(AssertionError) as failure:
        assert_trainable_params(peft_model)
    message = str(failure.value)
    assert "model.layers.0.mlp.down_proj" in message and "trainable but should not be" in message
    assert "model.layers.0.self_attn.v_proj" in message and "count differs" in message
    assert "model.layers.1" not in message


def test_assert_trainable_params_with_a_wrong_number():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"], r=4)
    real, _ = peft_model.get_nb_trainable_parameters()
    with pytest.raises(AssertionError, match=f"actual {real:,} != expected 1"):
        assert_trainable_params(peft_model, expected=1)


def test_frozen_adapter_layer_is_reported_as_missing():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"], r=4)
    for param in peft_model.base_model.model.model.layers[1].self_attn.q_proj.parameters():
        param.requires_grad_(False)
    with pytest.raises(AssertionError, match=r"(?s)layers\.1\.self_attn\.q_proj.*should be trainable and is not"):
        assert_trainable_params(peft_model)


def test_base_frozen_passes_with_adapters_copies_and_requested_biases():
    model = build_tiny_model("opt", "sequence_classification")
    assert_base_frozen(_apply(model, target_modules=["q_proj"], modules_to_save=["score"], bias="all"))


def test_base_frozen_names_an_unfrozen_base_weight():
    peft_model = _apply(build_tiny_model("opt"), target_modules=["q_proj"])
    peft_model.base_model.model.model.decoder.layers[1].fc1.weight.requires_grad_(True)
    with pytest.raises(AssertionError, match=r"decoder\.layers\.1\.fc1\.weight"):
        assert_base_frozen(peft_model)


def test_lora_only_biases_are_allowed_but_others_are_not():
    peft_model = _apply(build_tiny_model("opt"), target_modules=["q_proj"], bias="lora_only")
    assert_base_frozen(peft_model)
    peft_model.base_model.model.model.decoder.layers[0].fc2.bias.requires_grad_(True)
    with pytest.raises(AssertionError, match=r"fc2\.bias"):
        assert_base_frozen(peft_model)


def test_public_names_resolve_lazily():
    assert set(pytest_lora.__all__) >= {"expected_trainable_params", "assert_trainable_params",
                                        "assert_base_frozen", "assert_device_placement", "estimate_lora_memory"}
    with pytest.raises(AttributeError):
        pytest_lora.no_such_name  # noqa: B018


def test_an_explicit_count_needs_no_analytic_plan():
    # trainable_token_indices is not modelled by the analytic count; a given number still asserts
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"], trainable_token_indices=[0, 1])
    real, _ = peft_model.get_nb_trainable_parameters()
    assert assert_trainable_params(peft_model, expected=real) == real


def test_a_wrong_expected_number_shows_the_per_module_table():
    # newcomer trial: expected= gave one line ("actual 3,584 != expected 12,345"), without the table
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj", "v_proj"], r=4)
    real, _ = peft_model.get_nb_trainable_parameters()
    with pytest.raises(AssertionError) as failure:
        assert_trainable_params(peft_model, expected=12_345)
    message = str(failure.value)
    assert f"actual {real:,} != expected 12,345 (the config's analytic count: {real:,})" in message
    rows = [line for line in message.splitlines() if line.startswith("  model.layers.")]
    assert len(rows) == 4  # q_proj and v_proj of both layers, each with its counts
    assert all("analytic" in row and "actual" in row for row in rows)


def test_a_wrong_expected_number_with_a_model_peft_changed_since_shows_what_is_trainable():
    peft_model = _apply(build_tiny_model("llama"), target_modules=["q_proj"], r=4)
    peft_model.peft_config["default"].r = 0  # no analytic count for this config
    with pytest.raises(AssertionError) as failure:
        assert_trainable_params(peft_model, expected=1)
    message = str(failure.value)
    assert "no analytic count: `r` should be a positive integer" in message
    assert "per module (actual):" in message and "model.layers.1.self_attn.q_proj" in message


def test_lora_apply_explains_targets_that_match_nothing_as_lora_lint_does():
    # newcomer trial: gpt2 + q_proj gave peft's ~100-line traceback, with no "use c_attn" hint
    from peft.utils.error import NoMatchingPeftModuleError

    from pytest_lora.apply import apply_lora

    with pytest.raises(NoMatchingPeftModuleError) as failure:
        apply_lora(build_tiny_model("gpt2"), target_modules=["q_proj", "v_proj"], r=4)
    message = str(failure.value)
    assert message.startswith("no module of GPT2LMHeadModel matches target_modules=['q_proj', 'v_proj']: "
                              "the equivalent here is target_modules=['c_attn'] (targetable modules: c_attn, ")
    assert "\npeft: Target modules {" in message and len(message.splitlines()) == 2
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert not any("/peft/" in str(entry.path) for entry in failure.traceback)


def test_lora_apply_leaves_other_peft_errors_as_they_are():
    from pytest_lora.apply import apply_lora

    with pytest.raises(ValueError, match="`r` should be a positive integer"):
        apply_lora(build_tiny_model("gpt2"), target_modules=["c_attn"], r=0)
