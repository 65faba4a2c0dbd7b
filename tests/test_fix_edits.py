"""The text edits that describe a fix: computed on the replaced node, equal to diffing the whole module.

Describing a fix used to regenerate the whole module for every finding whose replacement is not a
plain node (an inserted keyword, a removed argument): linting a file with N such findings took time
quadratic in N. The edits are now computed on the smallest node around each replacement.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lint_rules import fixes
from lint_rules.catalog import all_rules
from lint_rules.positions import LineIndex
from lint_rules.engine import linter_for, lint_source

CORPUS = Path(__file__).parent / "data" / "corpus"

# Fixes inside nested blocks, continuation lines, tabs, CRLF, comments and decorators: the local
# edit must regenerate its node with the indentation of every block around it.
NESTED = [
    "from peft import LoraConfig\n\nclass A:\n    def f(self):\n        if True:\n"
    "            return LoraConfig(\n                r=16,\n                target_modules=['q_proj'],\n"
    "            )\n",
    "from peft import LoraConfig\n\nclass A:\n\tdef f(self):\n\t\treturn LoraConfig(\n\t\t\tr=4,\n"
    "\t\t\ttarget_modules=['c_attn'],  # fused\n\t\t)\n",
    "from peft import LoraConfig\r\n\r\ndef f():\r\n    cfg = LoraConfig(\r\n        r=32,\r\n"
    "        lora_alpah=8,\r\n    )\r\n    return cfg\r\n",
    "from peft import LoraConfig\n\n@decorate(LoraConfig(r=64, lora_alpha=16))\ndef f():\n    pass\n",
    "from peft import LoraConfig\n\nclass T:\n    @pytest.mark.parametrize(\n        'config',\n"
    "        [LoraConfig(target_modules=['c_attn'], r=16), LoraConfig(r=4, lora_dropuot=0.1)],\n    )\n"
    "    @other\n    def test(self, config):\n        pass\n",
    "import peft\n\nwith ctx():\n    for i in range(3):\n        c = peft.LoraConfig(r=8,\n"
    "                            target_modules=['q_proj', 'v_proj'],\n"
    "                            nit_lora_weights=True)\n",
    "from peft import LoraConfig\n\nif x:\n  c = [LoraConfig(r=2, target_modules=['c_attn']),\n"
    "       LoraConfig(target_modules=['c_attn'], r=8)]\nelse:\n        c = LoraConfig()\n",
]


def _sources() -> list[tuple[str, str, dict]]:
    cases = [(f"nested-{i}", source, {"model": "gpt2"}) for i, source in enumerate(NESTED)]
    for code, rule in sorted(all_rules().items()):
        for i, case in enumerate(rule.INVALID):
            cases.append((f"{code}-{i}", case.code, dict(case.settings)))
    cases += [(path.name, path.read_text(), {}) for path in sorted(CORPUS.glob("*.py"))]
    return cases


SOURCES = _sources()


def _apply_edits(source: str, edits) -> str:
    index = LineIndex(source)

    def offset(location):
        return index.offset(location.row) + location.column - 1

    for edit in sorted(edits, key=lambda e: (e.location.row, e.location.column), reverse=True):
        source = source[:offset(edit.location)] + edit.content + source[offset(edit.end_location):]
    return source


def _fixes(source: str, settings: dict) -> list[tuple[str, str, str]]:
    """Each fixable finding: its code, the source with its edits applied, and the source with its fix
    applied to the module (what --fix writes)."""
    module, found = linter_for(settings)._check(source, "t.py", None)
    return [(f.violation.code, _apply_edits(source, f.violation.fix.edits), fixes.apply(module, f.replacements))
            for f in found if f.violation.fix is not None]


@pytest.mark.parametrize(("source", "settings"), [(s, st) for _, s, st in SOURCES],
                         ids=[name for name, _, _ in SOURCES])
def test_edits_describe_exactly_the_fix(source, settings):
    for code, edited, fixed in _fixes(source, settings):
        assert edited == fixed, code


def test_some_cases_have_edits_of_every_kind():
    """The comparison above covers inserted keywords, replaced values, renamed and removed keywords."""
    kinds = {code for _, source, settings in SOURCES for code, _, _ in _fixes(source, settings)}
    assert {"LORA001", "LORA003", "LORA103", "LORA201"} <= kinds


def test_removing_the_last_argument_also_removes_its_comma():
    """The edit of a removed last keyword used to leave the comma before it (`LoraConfig(r=8, )`)
    although --fix removes it."""
    source = "from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, enable_lora=[True])\n"
    [(code, edited, fixed)] = _fixes(source, {"target-peft-version": "0.21.2"})
    assert code == "LORA103" and edited == fixed == "from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16)\n"


def test_describing_fixes_never_regenerates_the_module(monkeypatch):
    """100 configs (half of them in decorators, whose definition's position starts after them), each
    with an omitted lora_alpha (an inserted keyword) and a misspelt keyword: no finding's edit is
    computed on the whole module."""
    body = "".join(f"def f{i}():\n    return LoraConfig(r={i + 10}, target_modules=['c_attn'], lora_dropuot=0.1)\n\n"
                   for i in range(50))
    body += "".join(f"@mark.parametrize('c', [LoraConfig(r={i + 60}, target_modules=['c_attn'], lora_dropuot=0.1)])\n"
                    f"def test{i}(c):\n    pass\n\n" for i in range(50))
    source = "from peft import LoraConfig\n\n" + body

    def whole_module(*args, **kwargs):
        raise AssertionError("a fix's edit was computed by regenerating the whole module")

    monkeypatch.setattr(fixes, "apply", whole_module)
    found = lint_source(source, filename="many.py", settings={"model": "gpt2"})
    by_code = {}
    for v in found:
        by_code.setdefault(v.code, []).append(v)
    assert len(by_code["LORA201"]) == 100 and len(by_code["LORA003"]) == 100
    assert all(v.fix is not None and v.fix.edits for v in found if v.code in ("LORA201", "LORA003"))
    first = next(v for v in by_code["LORA201"] if v.location.row == 4)
    assert _apply_edits(source, first.fix.edits).splitlines()[3] == (
        "    return LoraConfig(r=10, lora_alpha=20, target_modules=['c_attn'], lora_dropuot=0.1)")
