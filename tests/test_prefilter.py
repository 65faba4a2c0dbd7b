"""The prefilter built from the rules' TRIGGERS: what it lets through, and that it never changes a finding."""
from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import libcst as cst
import pytest

from lint_rules.analysis import collect_calls
from lint_rules.analysis.model import APPLYING, APPLYING_KEYWORDS
from lint_rules.catalog import all_rules
from lint_rules.engine import Linter, lint_source, linter_for
from lint_rules.prefilter import Prefilter
from lint_rules.rules._training import TRAINING_KEYWORDS, TRAINING_TRIGGERS

RULES = all_rules()
LORA = Prefilter(frozenset({"LoraConfig"}))
# versions under which every rule can report (LORA011 needs a peft before 0.18.0, LORA019 a
# transformers before 5): the prefilters below are the union of every rule's triggers
ANY = {"target-peft-version": ">=0.10", "target-transformers-version": ">=4.40"}

# Every way the analysis can reach peft's LoraConfig: each text names it, each holds a call of it.
REACHED = {
    "plain": "from peft import LoraConfig\nc = LoraConfig(r=8, lora_alpha=8)\n",
    "alias": "from peft import LoraConfig as LC\nc = LC(r=8, lora_alpha=8)\n",
    "module alias": "import peft as p\nc = p.LoraConfig(r=8, lora_alpha=8)\n",
    "star": "from peft import *\nc = LoraConfig(r=8, lora_alpha=8)\n",
    "submodule": "from peft.tuners import lora\nc = lora.LoraConfig(r=8, lora_alpha=8)\n",
    "dotted import": "import peft.tuners.lora.config\nc = peft.tuners.lora.config.LoraConfig(r=8, lora_alpha=8)\n",
    "dotted alias": "import peft.tuners.lora.config as cfg\nc = cfg.LoraConfig(r=8, lora_alpha=8)\n",
    "parenthesised": "from peft import LoraConfig\nc = (LoraConfig)(r=8, lora_alpha=8)\n",
    "in a function": "def f():\n    from peft import LoraConfig as L\n    return L(r=8, lora_alpha=8)\n",
    "late import": "def f():\n    return LC(r=8, lora_alpha=8)\n\nfrom peft import LoraConfig as LC\n",
    "in an f-string": "from peft import LoraConfig\nprint(f'{LoraConfig(r=8, lora_alpha=8)}')\n",
    "chained": "from peft import LoraConfig\nd = LoraConfig(r=8, lora_alpha=8).to_dict()\n",
    "in brackets": "from peft import LoraConfig\nc = [LoraConfig  # a comment\n     (r=8, lora_alpha=8)]\n",
}
# Texts that name LoraConfig but call nothing a rule could see: never parsed with libcst.
NOT_CALLED = {
    "docstring": '"""Build a LoraConfig(r=8) by hand."""\nx = 1\n',
    "comment": "x = 1  # LoraConfig(r=8)\n",
    "import only": "from peft import LoraConfig\n__all__ = ['LoraConfig']\n",
    "annotation": "from peft import LoraConfig\ndef f(c: LoraConfig) -> LoraConfig:\n    return c\n",
    "isinstance": "from peft import LoraConfig\ndef f(c):\n    return isinstance(c, LoraConfig)\n",
    "string": "name = 'LoraConfig(r=0)'\n",
}


def _without_prefilter(linter: Linter) -> Linter:
    bare = copy.copy(linter)
    bare.prefilter = Prefilter(None)
    return bare


def _calls(source: str) -> list:
    return collect_calls(cst.MetadataWrapper(cst.parse_module(source)), linter_for(ANY).context("x.py", source))


def test_lora000_triggers_are_every_other_rules():
    others = {t for code, rule in RULES.items() if code != "LORA000" for t in rule.TRIGGERS}
    assert others and set(RULES["LORA000"].TRIGGERS) == others
    keywords = {t for code, rule in RULES.items() if code != "LORA000" for t in rule.KEYWORD_TRIGGERS}
    assert keywords and set(RULES["LORA000"].KEYWORD_TRIGGERS) == keywords
    loads = {t for code, rule in RULES.items() if code != "LORA000" for t in rule.LOAD_TRIGGERS}
    assert set(RULES["LORA000"].LOAD_TRIGGERS) == loads


def test_every_rule_declares_what_it_needs_to_see():
    assert all(rule.TRIGGERS or rule.KEYWORD_TRIGGERS or rule.LOAD_TRIGGERS for rule in RULES.values())
    assert linter_for(ANY, select=["LORA201"]).prefilter == LORA  # LORA000 (on unless ignored) follows the others
    trained = (frozenset({"train"}),)
    assert linter_for(ANY).prefilter == Prefilter(
        frozenset({"LoraConfig", *APPLYING, *TRAINING_TRIGGERS}), frozenset({"trust_remote_code"}),
        {"resize_token_embeddings": (frozenset({"add_tokens", "add_special_tokens"}),), "fp16": trained,
         "metric_for_best_model": trained, "load_best_model_at_end": trained,
         "gradient_checkpointing_enable": (frozenset({"backward"}),)},
        frozenset({*APPLYING_KEYWORDS, *TRAINING_KEYWORDS}))
    assert linter_for(ANY, select=["LORA000"]).prefilter == linter_for(ANY).prefilter


@pytest.mark.parametrize("source", [
    "from peft import get_peft_model\nfrom .config import LORA\nm = get_peft_model(model, LORA)\n",
    "from trl import SFTTrainer\nfrom .config import LORA\nt = SFTTrainer(model=m, peft_config=LORA)\n",
    "from .config import LORA\nmodel.add_adapter(LORA)\n",
])
def test_applying_a_config_made_elsewhere_passes_for_the_rules_that_check_it(source):
    """LORA001/LORA002 check a config another module of the project makes where this file applies it."""
    assert linter_for(ANY).prefilter.calls(source)
    assert not linter_for(ANY, select=["LORA201"]).prefilter.mentions(source)


# transformers' own code passes fp16=, resizes embeddings, enables checkpointing and sets
# load_best_model_at_end without training a model: 156 of its 2,912 files were parsed for the
# training rules alone, whose checks need a trainer's .train() or a loop's .backward()
UNTRAINED = {
    "fp16 keyword": "def build(config):\n    return Quantizer(config, fp16=True)\n",
    "resize without new tokens": "def grow(model, n):\n    model.resize_token_embeddings(n)\n",
    "checkpointing in a library": "def enable(model):\n    model.gradient_checkpointing_enable()\n",
    "trainer args without a run": "args = TrainingArguments('out', load_best_model_at_end=True)\n",
}
TRAINED = {
    "fp16 keyword": "trainer.train()\n",
    "resize without new tokens": "tok.add_tokens(['<x>'])\n",
    "checkpointing in a library": "loss.backward()\n",
    "trainer args without a run": "Trainer(model=m, args=args).train()\n",
}


@pytest.mark.parametrize("name", UNTRAINED)
def test_a_training_rule_trigger_counts_only_with_the_call_its_check_needs(name):
    prefilter = linter_for(ANY).prefilter
    assert not prefilter.calls(UNTRAINED[name]) and not prefilter.mentions(UNTRAINED[name])
    assert prefilter.calls(UNTRAINED[name] + TRAINED[name]) and prefilter.mentions(UNTRAINED[name] + TRAINED[name])
    alone = linter_for(ANY, select=["LORA000"]).prefilter  # LORA000 alone: what any other rule looks at
    assert not alone.calls(UNTRAINED[name]) and alone.calls(UNTRAINED[name] + TRAINED[name])


def test_a_trigger_another_rule_needs_alone_counts_alone():
    """``peft_config`` is LORA015's (which needs a trainer's run) and LORA001's (which does not)."""
    assert linter_for(ANY).prefilter.calls("SFTTrainer(model=m, peft_config=LORA)\n")
    assert not linter_for(ANY, select=["LORA015"]).prefilter.calls("SFTTrainer(model=m, peft_config=LORA)\n")


ADAPTER_NAMED = {  # each call LORA011 reads an adapter name from, in the shapes the analysis resolves
    "get_peft_model": "from peft import get_peft_model\nget_peft_model(m, c, adapter_name='lora')\n",
    "positional": "import peft\npeft.get_peft_model(m, c, 'lora')\n",
    "alias": "from peft import get_peft_model as wrap\nwrap(m, c, adapter_name='lora')\n",
    "mixed model": "from peft import PeftMixedModel\nPeftMixedModel(m, c, adapter_name='lora')\n",
    "task model": "from peft import PeftModelForCausalLM as P\nP.from_pretrained(m, p, adapter_name='lora')\n",
    "auto": "from peft import AutoPeftModelForCausalLM\nAutoPeftModelForCausalLM.from_pretrained(p, adapter_name='lora')\n",
    "load_adapter": "model.load_adapter(path, 'lora')\n",
    "add_adapter": "model.add_adapter('lora', config)\n",
}


@pytest.mark.parametrize("source", list(ADAPTER_NAMED.values()), ids=list(ADAPTER_NAMED))
def test_lora011_sees_every_call_it_reads_an_adapter_name_from(source):
    assert linter_for(ANY, select=["LORA011"]).prefilter.calls(source)


KEYWORD_OR_CALLED = {  # a called trigger passed as a keyword, a keyword trigger called: nothing a rule reads
    "config flag": "config = Wav2Vec2Config(add_adapter=True, adapter_kernel_size=3)\n",
    "library attribute": "for name, config in self.peft_config.items():\n    config.inference_mode = True\n",
}


@pytest.mark.parametrize("source", list(KEYWORD_OR_CALLED.values()), ids=list(KEYWORD_OR_CALLED))
def test_a_trigger_of_the_other_kind_makes_no_file_worth_parsing(source):
    """transformers' speech models pass ``add_adapter=`` to their configs and peft's tuners call
    ``self.peft_config.items()`` (7 of the 19 files parsed on transformers' source, 12 of 55 on
    peft + trl): the rules read ``add_adapter`` only as a method called, ``peft_config`` only as
    a keyword passed."""
    prefilter = linter_for(ANY).prefilter
    assert not prefilter.calls(source) and not prefilter.may_call(source)


@pytest.mark.parametrize("source", [
    "from trl import SFTTrainer\nSFTTrainer(model=m, peft_config=config).train()\n",
    "model.add_adapter(config)\n",
    "args = TrainingArguments(fp16=True)\nTrainer(model=m, args=args).train()\n",
])
def test_each_trigger_counts_as_its_kind(source):
    prefilter = linter_for(ANY).prefilter
    assert prefilter.calls(source) and prefilter.may_call(source) and prefilter.mentions(source)


def test_adapter_name_passed_to_anything_else_makes_no_file_worth_parsing():
    """peft's and trl's own modules pass ``adapter_name=`` to their helpers all over (a sixth of the
    bytes parsed on peft + trl): LORA011 reads it only from the calls above."""
    source = "def update(self, adapter_name):\n    self.update_layer(adapter_name=adapter_name, r=8)\n"
    assert not linter_for(ANY, select=["LORA011"]).prefilter.calls(source)
    assert not linter_for(ANY).prefilter.calls(source)


def test_a_rule_without_triggers_sees_every_file():
    class Anything:
        TRIGGERS = ()

    assert Prefilter.for_rules([RULES["LORA201"], Anything]) == Prefilter(None)
    assert Prefilter(None).mentions("x = 1\n") and Prefilter(None).calls("x = 1\n")


@pytest.mark.parametrize("source", list(REACHED.values()), ids=list(REACHED))
def test_every_way_to_reach_loraconfig_passes(source):
    assert _calls(source), "the analysis must see this call, or the case proves nothing"
    assert LORA.mentions(source) and LORA.calls(source)
    linter = linter_for(settings={"alpha-ratio": 2})
    found = linter.lint(source, "x.py")
    assert [v.code for v in found] == ["LORA201"]
    assert found == _without_prefilter(linter).lint(source, "x.py")


@pytest.mark.parametrize("source", list(NOT_CALLED.values()), ids=list(NOT_CALLED))
def test_a_mention_without_a_call_is_not_parsed(source, monkeypatch):
    assert not _calls(source)
    assert LORA.mentions(source) and not LORA.calls(source)
    monkeypatch.setattr(cst, "parse_module", lambda *a, **k: pytest.fail("parsed"))
    assert linter_for(ANY).lint(source, "x.py") == []


def test_a_file_without_the_name_is_not_read_further():
    source = "import peft\nmodel = peft.get_peft_model(model, config)\n"
    assert not LORA.mentions(source)
    assert linter_for(ANY).lint("import peft\ndef f(:\n", "x.py") == []  # no rule could fire: not even parsed


def test_what_cpython_cannot_parse_goes_to_libcst():
    assert LORA.calls("from peft import LoraConfig\nc = LoraConfig(r=8\n")
    assert LORA.calls("LoraConfig\0")
    assert LORA.calls("type X = int\nc = LoraConfig(r=8)\n")  # 3.12 syntax: found by CPython 3.12, else libcst's
    [violation] = linter_for(ANY).lint("from peft import LoraConfig\nc = LoraConfig(r=8\n", "x.py")
    assert violation.code == "LORA000"


def test_rule_examples_agree_with_the_analysis():
    """A case whose call the analysis sees passes the prefilter (the analysis resolves callees
    through imports only; if it ever resolves more, the prefilter must follow)."""
    prefilter = Prefilter.for_rules(RULES.values())
    for rule in RULES.values():
        for case in [*rule.VALID, *rule.INVALID]:
            try:
                seen = bool(_calls(case.code))
            except cst.ParserSyntaxError:
                continue
            assert not seen or prefilter.calls(case.code), (rule.CODE, case.code)


def _package_files(name: str, mentioning: tuple[str, ...]) -> list[Path]:
    spec = importlib.util.find_spec(name)  # locates the installed package without importing it
    assert spec is not None and spec.origin, f"{name} is installed by the test extras (make test)"
    root = Path(spec.origin).parent
    return sorted(p for p in root.rglob("*.py")
                  if any(word in p.read_text(encoding="utf-8", errors="replace") for word in mentioning))


# Real code at the pinned versions of constraints.txt: every file the former prefilter (a mention of
# `peft` or `LoraConfig`) let through, from peft itself and from transformers' peft integration.
REAL = [*_package_files("peft", ("peft", "LoraConfig")), *_package_files("transformers", ("peft", "LoraConfig"))]


@pytest.mark.slow
@pytest.mark.parametrize("path", REAL, ids=lambda p: "/".join(p.parts[-3:]))
def test_real_code_same_findings_with_and_without_the_prefilter(path):
    source = path.read_text(encoding="utf-8")
    linter = linter_for(ANY)
    assert linter.lint(source, str(path)) == _without_prefilter(linter).lint(source, str(path))


def test_the_runner_lints_only_files_a_rule_could_fire_on_largest_first(tmp_path, monkeypatch):
    from lint_rules import runner

    texts = {"plain.py": "import peft\nprint(peft.__version__)\n" * 3,
             "small.py": "from peft import LoraConfig\nc = LoraConfig(r=8, lora_alpha=16)\n",
             "large.py": "from peft import LoraConfig\n\n" + "x = 1\n" * 50 + "c = LoraConfig(r=8, lora_alpha=4)\n",
             "nb.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'}
    tasks = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        tasks.append(runner.read_task(tmp_path / name, name, name))
    seen: list[str] = []
    process = runner._process
    monkeypatch.setattr(runner, "_process", lambda task, *a: seen.append(task.filename) or process(task, *a))
    result = runner.run(tasks, linter_for(ANY).settings, jobs=1)
    assert seen == ["large.py", "nb.ipynb", "small.py"]  # never plain.py; the longest first
    assert [[v.code for v in f.violations] for f in result.files] == [[], [], ["LORA201"], []]
    assert [t.text == "" for t in tasks] == [True, True, False, True]  # texts without findings let go


# LORA011 reports only where a peft before 0.18.0 is allowed, LORA019 only where a transformers
# before 5 is: under newer versions alone, a file only they could look at is not parsed
ONLY_OLD_VERSIONS_REPORT = {
    "LORA011": ("model.load_adapter('out/code', adapter_name='lora')\n",
                {"target-peft-version": "<0.18"}, {"target-peft-version": ">=0.18"}),
    "LORA019": ("model.gradient_checkpointing_enable()\nloss.backward()\n",
                {"target-transformers-version": "<5"}, {"target-transformers-version": ">=5"}),
}


@pytest.mark.parametrize("code", ONLY_OLD_VERSIONS_REPORT)
def test_a_rule_that_cannot_report_under_the_run_versions_leaves_its_triggers_out(code):
    source, old, new = ONLY_OLD_VERSIONS_REPORT[code]
    assert linter_for(old).prefilter.calls(source) and linter_for(old).prefilter.mentions(source)
    assert not linter_for(new).prefilter.mentions(source)
    assert not linter_for(new, select=[code]).prefilter.mentions(source)  # not widened to LORA000's
    # a broken file only that rule could look at: LORA000 under the old versions, nothing under the new
    broken = source + "def f(:\n"
    assert [v.code for v in linter_for(old).lint(broken, "x.py")] == ["LORA000"]
    assert linter_for(new).lint(broken, "x.py") == []


def test_a_script_with_its_own_versions_is_filtered_for_every_enabled_rule():
    """A PEP 723 block may allow the old peft the run's settings do not (``project.context_for_source``)."""
    body = "model.load_adapter('out/code', adapter_name='lora')\n"
    script = '# /// script\n# dependencies = ["peft==0.17.1"]\n# ///\n' + body
    linter = linter_for({"target-transformers-version": ">=5"})  # peft: the installed one, or the newest
    assert not linter.prefilter.mentions(body) and linter.prefilter_for(script).mentions(script)
    if not any(v < "0.18" for v in linter.settings.peft_versions):
        assert linter.lint(body, "x.py") == []
    assert [v.code for v in linter.lint(script, "x.py")] == ["LORA011"]


@pytest.mark.parametrize("settings", [{"target-peft-version": ">=0.18"}, {"target-transformers-version": ">=5"},
                                      {"target-peft-version": ">=0.18", "target-transformers-version": ">=5"}])
def test_a_rule_said_not_to_report_under_some_versions_reports_none_of_its_examples_there(settings):
    """``Rule.reports_under`` is only a shortcut: every example of a rule it turns off, VALID and
    INVALID, gives no finding of that rule under those versions."""
    checked = 0
    for rule in RULES.values():
        for case in [*rule.VALID, *rule.INVALID]:
            merged = {**case.settings, **settings}
            if rule.reports_under(linter_for(merged).context(case.filename, case.code)):
                continue
            checked += 1
            found = lint_source(case.code, filename=case.filename, settings=merged, select=[rule.CODE])
            assert not [v for v in found if v.code == rule.CODE], (rule.CODE, case.code)
    assert checked
