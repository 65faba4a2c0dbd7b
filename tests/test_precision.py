"""Precision sweep: configurations peft itself uses are never flagged, for any curated model,
loading class and transformers data version, and nothing crashes on the way."""
from __future__ import annotations

import pytest

from lint_rules.engine import lint_source
from lint_rules.knowledge import peft_releases
from lint_rules.knowledge.architectures import transformers_versions
from lint_rules.knowledge.models import curated

CLASSES = ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM", "AutoModelForSequenceClassification",
           "AutoModel", "AutoModelForMaskedLM", "AutoModelForTokenClassification")
PROGRAM = """\
from peft import LoraConfig, get_peft_model
from transformers import {cls}

model = {cls}.from_pretrained({model_id!r})
model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules={targets!r}))
"""


AUTO_CLASS = {"causal_lm": "AutoModelForCausalLM", "seq2seq_lm": "AutoModelForSeq2SeqLM", "base": "AutoModel"}
WITH_DEFAULTS = sorted(m for m, entry in curated().items()
                       if peft_releases.default_target_modules(entry["model_type"]) is not None)


@pytest.mark.parametrize("transformers", transformers_versions())
@pytest.mark.parametrize("model_id", WITH_DEFAULTS)
def test_peft_default_target_modules_are_never_flagged(model_id, transformers):
    """peft's own per-model-type defaults (what ``target_modules=None`` uses) exist in the model."""
    defaults = peft_releases.default_target_modules(curated()[model_id]["model_type"])
    for cls in CLASSES:
        source = PROGRAM.format(cls=cls, model_id=model_id, targets=defaults)
        found = lint_source(source, settings={"target-transformers-version": transformers},
                            select=["LORA001", "LORA002"])
        assert found == [], (cls, [v.message for v in found])


@pytest.mark.parametrize("model_id", sorted(m for m, e in curated().items() if e["task"] in AUTO_CLASS))
def test_a_name_the_model_lacks_is_flagged(model_id):
    cls = AUTO_CLASS[curated()[model_id]["task"]]
    source = PROGRAM.format(cls=cls, model_id=model_id, targets=["no_such_module"])
    assert [v.code for v in lint_source(source, select=["LORA001", "LORA002"])] == ["LORA001"]
