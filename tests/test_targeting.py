"""pytest_lora.targeting against peft where the task type's heads and layers_to_transform meet."""
from __future__ import annotations

import copy
import warnings

import pytest

pytest.importorskip("peft")

from pytest_lora.trainable import expected_trainable_params  # noqa: E402

HEADS = {"TOKEN_CLS": "BertForTokenClassification", "QUESTION_ANS": "BertForQuestionAnswering",
         "SEQ_CLS": "BertForSequenceClassification"}


def _bert(task_type):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=64)
    return getattr(transformers, HEADS[task_type])(config)


def _peft_count(model, kwargs):
    """peft's trainable parameter count, or the exception type it raises."""
    from peft import LoraConfig, get_peft_model

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tuned = get_peft_model(copy.deepcopy(model), LoraConfig(**copy.deepcopy(kwargs)))
    except (TypeError, ValueError) as error:
        return type(error)
    return tuned.get_nb_trainable_parameters()[0]


def _ours(model, kwargs):
    try:
        return expected_trainable_params(model, kwargs)
    except (TypeError, ValueError) as error:
        return type(error)


@pytest.mark.parametrize("task_type", sorted(HEADS))
@pytest.mark.parametrize("target_modules", ["all-linear", ["query"], ["query", "classifier"]])
def test_task_heads_as_peft_treats_them(task_type, target_modules):
    """Only SEQ_CLS keeps its head from the targets; the others wrap a LoRA layer, which peft refuses."""
    model = _bert(task_type)
    kwargs = {"target_modules": target_modules, "r": 4, "task_type": task_type}
    assert _ours(model, kwargs) == _peft_count(model, kwargs)


def test_an_exact_name_ignores_layers_to_transform():
    model = _bert("SEQ_CLS")
    kwargs = {"target_modules": ["bert.encoder.layer.0.attention.self.query", "value"], "r": 4,
              "layers_to_transform": [1]}
    assert _ours(model, kwargs) == _peft_count(model, kwargs)
