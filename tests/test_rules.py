"""Every registered rule's VALID/INVALID examples, through the engine, plus meta checks."""
from __future__ import annotations

import libcst as cst
import pytest

from lint_rules.catalog import all_rules
from lint_rules.engine import fix_source, lint_source
from lint_rules.rule import Case

RULES = all_rules()
SECTIONS = ("What:", "Why:", "Example:", "Fix safety:")


def _cases(kind: str):
    for code, rule in RULES.items():
        for number, case in enumerate(getattr(rule, kind), 1):
            yield pytest.param(rule, case, id=f"{code}-{kind.lower()}-{number}")


def _of(rule, violations):
    return [v for v in violations if v.code == rule.CODE]


@pytest.mark.parametrize("rule, case", list(_cases("VALID")))
def test_valid(rule, case: Case):
    assert _of(rule, lint_source(case.code, filename=case.filename, settings=case.settings, select=[rule.CODE])) == []


@pytest.mark.parametrize("rule, case", list(_cases("INVALID")))
def test_invalid(rule, case: Case):
    found = _of(rule, lint_source(case.code, filename=case.filename, settings=case.settings, select=[rule.CODE]))
    assert len(found) == 1, found
    violation = found[0]
    if case.message is not None:
        assert case.message in violation.message
    if case.line is not None:
        assert violation.location.row == case.line
    if case.column is not None:
        assert violation.location.column == case.column
    if case.fixed is None:
        assert violation.fix is None
        return
    assert violation.fix is not None and violation.fix.applicability == rule.FIX
    fixed, remaining = fix_source(case.code, filename=case.filename, settings=case.settings,
                                  select=[rule.CODE], unsafe=True)
    assert fixed == case.fixed
    assert _of(rule, remaining) == []
    cst.parse_module(fixed)
    again, _ = fix_source(fixed, filename=case.filename, settings=case.settings, select=[rule.CODE], unsafe=True)
    assert again == fixed


def test_codes_and_names_are_unique():
    names = [rule.NAME for rule in RULES.values()]
    assert len(set(names)) == len(names)
    assert all(code == rule.CODE for code, rule in RULES.items())


@pytest.mark.parametrize("code", list(RULES))
def test_rule_metadata(code):
    rule = RULES[code]
    doc = rule.__doc__ or ""
    assert all(section in doc for section in SECTIONS), f"{code}: docstring lacks a section"
    assert rule.SUMMARY and rule.VALID and rule.INVALID
    assert rule.FIX in (None, "safe", "unsafe")
    with_fix = [case for case in rule.INVALID if case.fixed is not None]
    assert bool(with_fix) == bool(rule.FIX), f"{code}: fixable iff an INVALID case shows the fix"


def test_seed_program_gets_the_c_attn_suggestion():
    with open("examples/seed_gpt2.py", encoding="utf-8") as handle:
        found = lint_source(handle.read(), filename="examples/seed_gpt2.py")
    errors = [v for v in found if v.code == "LORA001"]
    assert len(errors) == 1 and "['c_attn']" in errors[0].message
    assert errors[0].fix is not None and errors[0].fix.edits[0].content == "c_attn"


def test_fixed_seed_program_is_clean():
    with open("examples/seed_gpt2_fixed.py", encoding="utf-8") as handle:
        assert lint_source(handle.read(), filename="examples/seed_gpt2_fixed.py") == []


def test_a_configured_severity_wins_over_the_findings_own():
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModel\n\n"
              "model = AutoModel.from_pretrained('Qwen/Qwen2-VL-2B-Instruct')\n"
              "model = get_peft_model(model, LoraConfig(target_modules='all-linear'))\n")
    for settings, expected in (({}, "warning"), ({"severity": {"LORA014": "error"}}, "error"),
                               ({"severity": {"LORA014": "info"}}, "info")):
        found = lint_source(source, filename="case.py", select=["LORA014"], settings=settings)
        assert [v.severity for v in found] == [expected]
