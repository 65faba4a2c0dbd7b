"""expected_trainable_params against peft's real count, over architectures x configurations."""
from __future__ import annotations

import copy
import functools
import warnings

import pytest

pytest.importorskip("peft")

from pytest_lora.tiny_models import build_tiny_model  # noqa: E402
from pytest_lora.trainable import expected_trainable_params, trainable_params  # noqa: E402

ARCHITECTURES = [
    ("gpt2", "causal_lm"), ("llama", "causal_lm"), ("mistral", "causal_lm"), ("mixtral", "causal_lm"),
    ("qwen2", "causal_lm"), ("qwen2_moe", "causal_lm"), ("qwen3", "causal_lm"), ("qwen3_moe", "causal_lm"),
    ("gemma", "causal_lm"), ("gemma2", "causal_lm"), ("gemma3_text", "causal_lm"), ("phi", "causal_lm"),
    ("phi3", "causal_lm"), ("falcon", "causal_lm"), ("opt", "causal_lm"), ("bloom", "causal_lm"),
    ("gpt_neox", "causal_lm"), ("gpt_bigcode", "causal_lm"), ("mpt", "causal_lm"), ("gptj", "causal_lm"),
    ("stablelm", "causal_lm"), ("starcoder2", "causal_lm"), ("olmo2", "causal_lm"), ("cohere", "causal_lm"),
    ("deepseek_v3", "causal_lm"), ("phimoe", "causal_lm"), ("llama", "sequence_classification"),
    ("t5", "seq2seq_lm"), ("bart", "seq2seq_lm"), ("mbart", "seq2seq_lm"),
    ("bert", "sequence_classification"), ("roberta", "sequence_classification"),
    ("distilbert", "sequence_classification"), ("deberta-v2", "sequence_classification"),
]
CONFIGS = ["all-linear", "list+rank_pattern", "regex", "layers_to_transform", "bias=all",
           "lora_only+exclude", "dora", "embedding+modules_to_save"]


@functools.lru_cache(maxsize=None)
def _model(model_type: str, task: str):
    return build_tiny_model(model_type, task)


def _linear_leaves(model) -> list[str]:
    import torch
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings()
    leaves: list[str] = []
    for name, module in model.named_modules():
        leaf = name.rpartition(".")[2]
        if isinstance(module, (torch.nn.Linear, Conv1D)) and module is not head and leaf not in leaves:
            leaves.append(leaf)
    return leaves


def _config(kind: str, model, task: str) -> dict:
    first, second = _linear_leaves(model)[:2]
    seq_cls = {"task_type": "SEQ_CLS"} if task == "sequence_classification" else {}
    if kind == "all-linear":
        return {"target_modules": "all-linear", "r": 8, **seq_cls}
    if kind == "list+rank_pattern":
        return {"target_modules": [first, second], "r": 8, "rank_pattern": {second: 2}}
    if kind == "regex":
        return {"target_modules": rf".*\.({first}|{second})", "r": 4}
    if kind == "layers_to_transform":
        return {"target_modules": [first, second], "r": 4, "layers_to_transform": [1]}
    if kind == "bias=all":
        return {"target_modules": "all-linear", "r": 2, "bias": "all", **seq_cls}
    if kind == "lora_only+exclude":
        return {"target_modules": "all-linear", "r": 2, "bias": "lora_only",
                "exclude_modules": [second], **seq_cls}
    if kind == "dora":
        return {"target_modules": [first, second], "r": 4, "use_dora": True}
    embedding = next(n for n, m in model.named_modules() if m is model.get_input_embeddings())
    return {"target_modules": [first, embedding.rpartition(".")[2]], "r": 4,
            "modules_to_save": [_linear_leaves(model)[-1]], **seq_cls}


def _check(model_type, task, kwargs):
    from peft import LoraConfig, get_peft_model

    model = _model(model_type, task)  # shared (cached): only peft's copy is modified
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(**kwargs))
    except (TypeError, ValueError) as error:  # peft refuses the config: so must the analytic count
        with pytest.raises(type(error)):
            expected_trainable_params(model, kwargs)
        return
    real, _ = peft_model.get_nb_trainable_parameters()
    assert expected_trainable_params(model, kwargs) == real == trainable_params(peft_model)


@pytest.mark.slow
@pytest.mark.parametrize("kind", CONFIGS)
@pytest.mark.parametrize(("model_type", "task"), ARCHITECTURES, ids=[f"{m}-{t}" for m, t in ARCHITECTURES])
def test_expected_equals_peft(model_type, task, kind):
    _check(model_type, task, _config(kind, _model(model_type, task), task))


MOE = ["mixtral", "qwen2_moe", "qwen3_moe", "phimoe", "deepseek_v3"]


@pytest.mark.slow
@pytest.mark.parametrize("model_type", MOE)
def test_target_parameters_on_experts(model_type):
    model = _model(model_type, "causal_lm")
    names = {n.rpartition(".")[2] for n, p in model.named_parameters() if p.dim() == 3}
    targets = [f"experts.{name}" for name in sorted(names)]
    assert targets, "the tiny MoE model should have fused 3-D expert weights"
    _check(model_type, "causal_lm", {"target_modules": [], "target_parameters": targets, "r": 4,
                                     "rank_pattern": {targets[0]: 2}})
