"""LORA007, LORA012, LORA203, LORA301 on what only a checkpoint's own config tells, and the
engine's per-file rules (LORA301 looks at from_pretrained calls, not at a LoraConfig)."""
from __future__ import annotations

import json

import pytest

from lint_rules.engine import fix_source, linter_for, lint_source
from lint_rules.rule import RuleContext
from lint_rules.rules.lora301_trust_remote_code import _native_range

_CLASSIFIER = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForSequenceClassification\n\n"
               "model = AutoModelForSequenceClassification.from_pretrained({path!r})\n"
               "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n")


def _checkpoint(tmp_path, **config) -> str:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def _found(source: str, code: str, **settings):
    return [v for v in lint_source(source, filename="case.py", settings=settings, select=[code]) if v.code == code]


@pytest.mark.parametrize("architectures, flagged", [
    (["LlamaForCausalLM"], True),  # a causal checkpoint: the classifier's head is new
    (["LlamaForSequenceClassification"], False),  # already a classifier: its head is trained
    (None, True),
])
def test_lora007_judges_the_head_by_the_checkpoint_architectures(tmp_path, architectures, flagged):
    config = {"model_type": "llama", "num_hidden_layers": 2}
    if architectures is not None:
        config["architectures"] = architectures
    path = _checkpoint(tmp_path, **config)
    assert bool(_found(_CLASSIFIER.format(path=path), "LORA007")) is flagged


def test_lora012_follows_the_checkpoint_config_over_the_type_default(tmp_path):
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained({path!r})\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['q_proj'], modules_to_save=['lm_head']))\n")
    untied = _checkpoint(tmp_path, model_type="gemma2", tie_word_embeddings=False)
    assert _found(source.format(path=untied), "LORA012") == []
    assert _found(source.format(path="google/gemma-2-2b"), "LORA012")  # the curated config ties them


def test_lora012_judges_a_type_default_only_where_every_allowed_transformers_agrees(tmp_path):
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForSeq2SeqLM\n\n"
              "model = AutoModelForSeq2SeqLM.from_pretrained({path!r})\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['q'], modules_to_save=['lm_head']))\n")
    path = _checkpoint(tmp_path, model_type="mt5")  # mt5's default changed between transformers 4 and 5
    both = {"target-transformers-version": ">=4.57"}
    assert _found(source.format(path=path), "LORA012", **both) == []
    assert _found(source.format(path=path), "LORA012", **{"target-transformers-version": "5.24.0"})


def test_lora301_reports_without_a_fix_where_the_repository_ships_code(tmp_path):
    path = _checkpoint(tmp_path, model_type="phi3", auto_map={"AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"})
    source = ("from transformers import AutoModelForCausalLM\n\n"
              f"model = AutoModelForCausalLM.from_pretrained({path!r}, trust_remote_code=True)\n")
    [violation] = _found(source, "LORA301", **{"target-transformers-version": "5.24.0"})
    assert "auto_map" in violation.message and violation.fix is None


def test_lora301_needs_no_loraconfig_in_the_file_and_honours_noqa():
    source = ("from transformers import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-0.5B', trust_remote_code=True)\n")
    settings = {"target-transformers-version": "5.24.0"}
    assert linter_for(settings).prefilter.calls(source)
    assert [v.code for v in lint_source(source, filename="x.py", settings=settings)] == ["LORA301"]
    assert lint_source(source.replace("True)", "True)  # noqa: LORA301"), filename="x.py", settings=settings) == []
    fixed, left = fix_source(source, filename="x.py", settings=settings)
    assert "trust_remote_code" not in fixed and left == []


def test_a_file_without_triggers_is_still_not_parsed():
    source = "from transformers import AutoModelForCausalLM\n\nmodel = AutoModelForCausalLM.from_pretrained('gpt2')\n"
    assert not linter_for().prefilter.mentions(source)


@pytest.mark.parametrize("spec, native", [
    ("5.24.0", True), ("4.57.6", True), (">=4.57.6", True), (">=4.58,<6", True),
    ("4.46.0", False), (">=4.36", False), ("<5", False), ("==4.57.*", False), ("not a spec", False),
])
def test_only_ranges_inside_the_architecture_data_count_as_native(spec, native):
    ctx = RuleContext("x.py", "", "test", ("0.21.2",), transformers=spec)
    assert _native_range(ctx) is native


@pytest.mark.parametrize("source, parsed", [
    ("m = AutoModel.from_pretrained('gpt2', trust_remote_code=True)\n", True),
    ("m = AutoModel.from_pretrained(pretrained_model_name_or_path='gpt2', trust_remote_code=TRUST)\n", True),
    ("NAME = 'gpt2'\nm = AutoModel.from_pretrained(NAME, trust_remote_code=True)\n", True),
    ("def load(name='gpt2'):\n    return AutoModel.from_pretrained(name, trust_remote_code=True)\n", True),
    ("def load(name):\n    return AutoModel.from_pretrained(name, trust_remote_code=True)\n", False),
    ("m = AutoModel.from_pretrained(args.model, trust_remote_code=True)\n", False),
    ("m = AutoModel.from_pretrained('gpt2', trust_remote_code=args.trust_remote_code)\n", False),
    ("m = AutoModel.from_pretrained('gpt2', trust_remote_code=False)\n", False),
    ("t = AutoTokenizer.from_pretrained('gpt2', trust_remote_code=True)\n", False),
    ("p = transformers.AutoProcessor.from_pretrained('gpt2', trust_remote_code=True)\n", False),
    ("d = load_dataset('gpt2', trust_remote_code=True)\n", False),
    ("kwargs = dict(trust_remote_code=True)\n", False),
])
def test_lora301_wants_only_from_pretrained_passing_true_or_a_name(source, parsed):
    prefilter = linter_for(select=["LORA301"]).prefilter
    assert (prefilter.mentions(source) and prefilter.calls(source)) is parsed


def test_a_file_only_lora301_wants_is_indexed_not_analysed(monkeypatch):
    from lint_rules import analysis

    def refuse(*args, **kwargs):
        raise AssertionError("the LoraConfig analysis ran on a file without LoraConfig")

    monkeypatch.setattr(analysis, "collect_calls", refuse)
    source = ("from transformers import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-0.5B', trust_remote_code=True)\n")
    found = lint_source(source, filename="x.py", settings={"target-transformers-version": "5.24.0", "model": "gpt2"})
    assert [v.code for v in found] == ["LORA301"]


@pytest.mark.parametrize("spec", [">=5", "<5", ">=4.40"])
def test_a_module_missing_in_every_transformers_gets_no_note_about_versions(spec):
    """The note names another transformers only where that version's data has the module:
    GPT-2 has no `q_proj` in 4.57.6 or 5.24.0 (facts of the data, checked against the GPT-2 source)."""
    source = "from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn', 'q_proj'])  # lora-lint: model=gpt2\n"
    found = _found(source, "LORA002", **{"target-transformers-version": spec})
    assert len(found) == 1 and "match no module of gpt2" in found[0].message
    assert "checked against" not in found[0].message


@pytest.mark.parametrize("spec, checked, other", [(">=5", "5.24.0", "4.57.6"), ("<5", "4.57.6", "5.24.0")])
def test_a_module_of_another_transformers_is_named_with_that_version(spec, checked, other):
    """GPT-NeoX's output layer is `embed_out` in transformers 4.x and `lm_head` in 5.x: a project
    on one is told the other has it."""
    name = "embed_out" if checked.startswith("5") else "lm_head"
    source = (f"from peft import LoraConfig\n\n"
              f"LoraConfig(target_modules=['query_key_value'], modules_to_save=['{name}'])"
              f"  # lora-lint: model=EleutherAI/pythia-70m\n")
    found = _found(source, "LORA007", **{"target-transformers-version": spec})
    assert len(found) == 1
    assert (f"(checked against transformers {checked}, the one the project allows; in transformers {other} "
            f"they match modules of the model") in found[0].message
