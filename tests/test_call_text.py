"""The characters' test (``call_text``, ``Prefilter.may_call``) before CPython's tree is built:
every way code can call, alias or pass a trigger gets through it; what it leaves out cannot be
such code; either way the engine decides as the plain walk does (``test_prefilter_decisions``)."""
from __future__ import annotations

import pytest

from lint_rules import call_text
from lint_rules.engine import linter_for
from lint_rules.prefilter import Prefilter
from test_prefilter_decisions import PlainScan, _with, engine_decision, plain_decision

LORA = Prefilter(frozenset({"LoraConfig", "add_adapter"}), keywords=frozenset({"peft_config"}))
TRAINING = Prefilter(frozenset(), needs={"fp16": (frozenset({"train"}),)}, keywords=frozenset({"fp16"}))
LOADING = linter_for(select=["LORA301"]).prefilter

# code the scan counts: a text that would break a naive test of the characters
CALLED = {
    "parenthesised callee": "c = (LoraConfig)(r=8)\n",
    "doubly parenthesised": "c = ((LoraConfig))(r=8)\n",
    "parenthesised over lines": "c = (peft.LoraConfig\n     )(r=8)\n",
    "comment before the bracket": "c = [LoraConfig  # why\n     (r=8)]\n",
    "continuation": "c = LoraConfig \\\n    (r=8)\n",
    "spaced attribute": "c = peft . LoraConfig (r=8)\n",
    "attribute over a continuation": "c = peft.\\\n    LoraConfig(r=8)\n",
    "in a chain": "c = LoraConfig.from_pretrained('x')\n",
    "parenthesised in a chain": "c = (LoraConfig).from_pretrained('x')\n",
    "chain over lines": "c = (LoraConfig\n     .from_pretrained('x'))\n",
    "keyword": "t = SFTTrainer(peft_config = c)\n",
    "keyword over lines": "t = SFTTrainer(\n    peft_config\n    =c)\n",
    "keyword after a comment": "t = SFTTrainer(peft_config  # the adapter\n    = c)\n",
    "alias": "from peft import LoraConfig as LC\nc = LC(r=8)\n",
    "alias in brackets": "from peft import (LoraConfig\n    as LC)\nc = LC(r=8)\n",
    "alias after a comment": "from peft import (LoraConfig  # the config\n    as LC)\nc = LC(r=8)\n",
    "dotted alias with spaces": "import peft . LoraConfig as LC\nc = LC(r=8)\n",
    "f-string": "print(f'{LoraConfig(r=8)}')\n",
    "f-string on a doctest line": 'doc = f"""\n>>> {LoraConfig(r=8)}\n"""\n',
    "after a string closed on a doctest line": "x = [g('''\n>>> '''), LoraConfig(r=8)]\n",
    "NFKC identifier": "from peft import LoraConfig\nc = \uff2coraConfig(r=8)\n",
    "a method named so, called": "def f(self):\n    return self.LoraConfig(r=8)\n",
    "after a def on the same line": "def f(): return LoraConfig(r=8)\n",
    "attribute used": "self.add_adapter.update(x)\n",
}
# occurrences the characters show cannot be a call, keyword or alias of the name
NOT_CODE = {
    "definition": "def LoraConfig(r):\n    return r\n",
    "async definition": "async def LoraConfig(r):\n    return r\n",
    "class": "class LoraConfig(Base):\n    pass\n",
    "docstring argument": 'def f(config=None):\n    """\n    peft_config (`PeftConfig`): the adapter\n    """\n',
    "attribute assignment": "self.peft_config = {}\n",
    "comparison": "same = peft_config == other\n",
    "doctest": 'def f():\n    """\n    >>> c = LoraConfig(r=8)\n    >>> model = wrap(peft_config=c)\n    """\n',
    "word inside another": "c = MyLoraConfig(r=8) + LoraConfigs(r=8) + f(peft_configs=x)\n",
    "keyword trigger called": "self.peft_config.update(x)\n",
    "called trigger passed": "config = Wav2Vec2Config(add_adapter=True)\n",
    "annotation": "def f(c: LoraConfig) -> LoraConfig:\n    return c\n",
    "isinstance": "ok = isinstance(c, LoraConfig)\n",
    "comment that holds a bracket": "x = [LoraConfig  # (r=8)\n]\n",
}


def _decided_alike(prefilter: Prefilter, source: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    decided = engine_decision(_with(prefilter), source, monkeypatch)
    assert decided == plain_decision(prefilter, source)
    return decided


@pytest.mark.parametrize("source", list(CALLED.values()), ids=list(CALLED))
def test_code_that_calls_a_trigger_passes_the_characters(source, monkeypatch):
    scan = PlainScan(LORA)
    scan.add(compile(source, "<case>", "exec", 0x400, dont_inherit=True))
    assert scan.found(), "the plain scan must count it, or the case proves nothing"
    assert LORA.may_call(source)
    assert _decided_alike(LORA, source, monkeypatch)[0] == "parsed"


@pytest.mark.parametrize("source", list(NOT_CODE.values()), ids=list(NOT_CODE))
def test_what_cannot_be_code_is_decided_without_a_tree(source, monkeypatch):
    assert not LORA.may_call(source)
    assert _decided_alike(LORA, source, monkeypatch) == ("skipped",)


# what the characters cannot tell apart from code: CPython's tree decides
UNTOLD = {
    "comment": "x = 1  # LoraConfig(r=8)\n",
    "string": "s = 'LoraConfig(r=8)'\n",
    "parameter default": "def f(peft_config=None):\n    return peft_config\n",
    "assignment": "peft_config = build()\n",
}


@pytest.mark.parametrize("source", list(UNTOLD.values()), ids=list(UNTOLD))
def test_what_the_characters_cannot_tell_is_walked(source, monkeypatch):
    assert LORA.may_call(source)
    assert _decided_alike(LORA, source, monkeypatch) == ("skipped",)


def test_a_needed_call_counts_only_with_the_trigger():
    assert not TRAINING.may_call("args = Args(fp16=True)\n")
    assert not TRAINING.may_call("args = Args(fp16=True)\nmode = 'train'\n")
    assert TRAINING.may_call("args = Args(fp16=True)\ntrainer.train()\n")
    assert not TRAINING.may_call("from x import fp16 as half\nhalf()\n")  # a keyword trigger: no alias


@pytest.mark.parametrize("source, may", [
    ("m = AutoModel.from_pretrained('x', trust_remote_code=True)\n", True),
    ("m = AutoModel.from_pretrained('x', trust_remote_code=(True))\n", True),
    ("m = AutoModel.from_pretrained('x', trust_remote_code = \\\n    remote)\n", True),
    ("m = (AutoModel\n     .from_pretrained)('x', trust_remote_code=True)\n", True),
    ("m = AutoTokenizer.from_pretrained('x', trust_remote_code=True)\n", False),
    ("m = AutoConfig.from_pretrained('x', trust_remote_code=True)\n", False),
    ("m = AutoModel.from_pretrained('x', trust_remote_code='yes')\n", False),
    ("f(trust_remote_code=True)\nm = AutoModel.from_pretrained('x')\n", False),  # not a keyword of the load
])
def test_a_load_needs_a_model_class_and_the_keyword_after_it(source, may, monkeypatch):
    assert LOADING.may_call(source) is may
    _decided_alike(LOADING, source, monkeypatch)


@pytest.mark.parametrize("source, parsed", [
    ("x = 1  # LoraConfig\ny = (\n", True),  # CPython rejects it: libcst reports LORA000
    ("x = 1  # LoraConfig\nnonlocal y\n", False),  # only the symbol table rejects it: not a syntax error
    ("x = 1  # LoraConfig\ndef f(a, a):\n    pass\n", False),
    ("x = 1  # LoraConfig\nx = '\0'\n", True),
    ("x = 1  # LoraConfig\n" + "a = 1\n" * 20_000 + "nonlocal y\n" + "b = 2\n" * 20_000, False),  # in pieces
    ("x = 1  # LoraConfig\n" + "a = 1\n" * 20_000 + "b = (\n" + "c = 2\n" * 20_000, True),
])
def test_a_text_is_checked_as_cpythons_parser_checks_it(source, parsed, monkeypatch):
    assert not LORA.may_call(source)
    assert (_decided_alike(LORA, source, monkeypatch)[0] == "parsed") is parsed


def test_the_syntax_error_is_still_reported():
    [violation] = linter_for().lint("x = 1  # LoraConfig\ny = (\n", "x.py")
    assert violation.code == "LORA000"


def test_normalised_only_when_not_ascii():
    text = "c = LoraConfig(r=8)\n"
    assert call_text.normalized(text) is text
    assert call_text.normalized("c = \uff2coraConfig(r=8)\n") == text


def test_many_names_on_one_long_line_are_read_once(monkeypatch):
    """Hostile input: each occurrence looked back to its line's start (10,000 on one line of a
    doctest: 1.6 s, 100,000: minutes); the text before an occurrence is now searched once."""
    searched, prompts = [0], [0]
    real_in_prompt, real_prompt = call_text._Lines.in_prompt, call_text._Lines._prompt

    def in_prompt(self, at):
        searched[0] += at - self.searched
        return real_in_prompt(self, at)

    def prompt(self, line):
        prompts[0] += 1
        return real_prompt(self, line)

    monkeypatch.setattr(call_text._Lines, "in_prompt", in_prompt)
    monkeypatch.setattr(call_text._Lines, "_prompt", prompt)
    text = '"""\n>>> ' + "LoraConfig(" * 10_000 + '\n"""\n' + "x = [" + "LoraConfig.x, " * 10_000 + "]\n"
    assert LORA.may_call(text)
    assert searched[0] <= 2 * len(text) and prompts[0] <= 2 * 3  # per name: the text once, each line once
