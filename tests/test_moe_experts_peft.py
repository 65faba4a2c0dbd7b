"""What LORA013 says, shown with the installed peft and transformers on tiny mixture-of-experts
models (skipped without them): the configs it reports train no routed expert, and the names or
``target_parameters`` its message suggests do."""
from __future__ import annotations

import ast
import re
import warnings

import pytest

from lint_rules.engine import lint_source

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_lora.tiny_models import build_tiny_model  # noqa: E402

if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("the fused experts these cases show are transformers 5's", allow_module_level=True)

_SOURCE = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
           "model = AutoModelForCausalLM.from_pretrained({model!r})\n"
           "model = get_peft_model(model, LoraConfig(target_modules={targets!r}))\n")


def _trained_experts(model_type: str, **config) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = peft.get_peft_model(build_tiny_model(model_type, "causal_lm"), peft.LoraConfig(r=2, **config))
    return [n for n, p in model.named_parameters()
            if p.requires_grad and ".experts." in n and "shared_expert" not in n]


def _lint(model: str, targets) -> list:
    return lint_source(_SOURCE.format(model=model, targets=targets), filename="case.py", select=["LORA013"])


@pytest.mark.parametrize("model_type, model, targets", [
    ("qwen3_moe", "Qwen/Qwen3-30B-A3B", ["q_proj", "v_proj"]),
    ("mixtral", "mistralai/Mixtral-8x7B-v0.1", ["q_proj", "gate_proj", "up_proj", "down_proj"]),
])
def test_a_reported_config_trains_no_expert_and_the_suggested_names_do(model_type, model, targets):
    assert _trained_experts(model_type, target_modules=targets) == []
    found = _lint(model, targets)
    assert [v.code for v in found] == ["LORA013"]
    added = ast.literal_eval("[" + re.search(r"add (.+?) to target_modules", found[0].message).group(1) + "]")
    assert _trained_experts(model_type, target_modules=[*targets, *added])
    assert _lint(model, [*targets, *added]) == []


def test_the_suggested_target_parameters_train_the_experts():
    found = _lint("Qwen/Qwen3-30B-A3B", ["q_proj", "v_proj"])
    params = ast.literal_eval(re.search(r"target_parameters=(\[[^\]]+\])", found[0].message).group(1))
    assert _trained_experts("qwen3_moe", target_modules=["q_proj"], target_parameters=params)


def test_shared_expert_names_leave_the_routed_experts_frozen():
    targets = ["shared_expert.gate_proj", "shared_expert.up_proj", "shared_expert.down_proj"]
    assert _trained_experts("qwen2_moe", target_modules=targets) == []
    assert "shared experts" in _lint("Qwen/Qwen1.5-MoE-A2.7B", targets)[0].message
