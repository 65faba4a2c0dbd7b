"""Precision sweep: configurations peft itself uses are never flagged, for any curated model,
loading class and transformers data version, and nothing crashes on the way."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lint_rules.engine import fix_source, lint_source
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


CORPUS = sorted((Path(__file__).parent / "data" / "corpus").glob("*.py"))
EXPECT = re.compile(r"#\s*expect:\s*(LORA\d+(?:\s*,\s*LORA\d+)*)")


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_realistic_programs_get_exactly_the_findings_they_deserve(path):
    """Fine-tuning code as people write it (guards, helpers, mutation after the call, unusual
    syntax): each `# expect: CODE` line is a finding peft's behaviour proves, and there is no
    other; the unsafe fixes give code that compiles and leaves no fixable finding."""
    source = path.read_text(encoding="utf-8")
    expected = sorted((row, code.strip()) for row, line in enumerate(source.splitlines(), start=1)
                      for match in EXPECT.finditer(line) for code in match.group(1).split(","))
    settings = {"target-peft-version": ">=0.7"}
    found = lint_source(source, filename=path.name, settings=settings)
    assert sorted((v.location.row, v.code) for v in found) == expected, [v.message for v in found]
    fixed, remaining = fix_source(source, filename=path.name, settings=settings, unsafe=True)
    compile(fixed, path.name, "exec")
    assert not [v for v in remaining if v.fix is not None]


HEAD_PROGRAM = """\
from peft import LoraConfig, get_peft_model
from transformers import {cls}

model = {cls}.from_pretrained({model_id!r})
config = LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value", {head!r}], modules_to_save=[{head!r}])
model = get_peft_model(model, config)
"""


@pytest.mark.parametrize(("cls", "model_id", "head"), [
    ("AutoModelForQuestionAnswering", "bert-base-uncased", "qa_outputs"),  # BertForQuestionAnswering
    ("BertForQuestionAnswering", "bert-base-uncased", "qa_outputs"),
    ("AutoModelForImageClassification", "google/vit-base-patch16-224-in21k", "classifier"),  # ViTForImageClassification
    ("AutoModelForMultipleChoice", "bert-base-uncased", "classifier"),  # BertForMultipleChoice
])
def test_a_head_class_the_data_does_not_record_is_not_taken_for_the_checkpoint_class(cls, model_id, head):
    """A model loaded by a head class whose task the architecture data does not track is that
    class (the checkpoint's base model plus a head the data does not know), not the checkpoint's
    own class: its head is neither a missing target nor a missing ``modules_to_save`` entry."""
    found = lint_source(HEAD_PROGRAM.format(cls=cls, model_id=model_id, head=head), select=["LORA0"])
    assert found == [], [v.message for v in found]


def test_a_head_class_that_is_the_recorded_class_is_still_checked():
    """``T5ForConditionalGeneration`` is the class the data records for t5's seq2seq task."""
    source = PROGRAM.format(cls="T5ForConditionalGeneration", model_id="t5-small", targets=["q_proj", "v_proj"])
    assert [v.code for v in lint_source(source, select=["LORA001"])] == ["LORA001"]
