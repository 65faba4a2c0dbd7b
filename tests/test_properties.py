"""Property tests over generated LoraConfig programs (issue 8, "Keep it fixed"): no internal
error, every location inside the file, ``--fix --unsafe-fixes`` output parses and keeps every
comment a fix does not delete by design, a second fix changes nothing, fixing removes exactly the
fixed findings and what is left is the fixed program's own (a fix may reveal a finding). The
generator and the properties live in ``lora_programs.py``.

Bounded and derandomised here (the same programs on every run, so CI is stable);
``make fuzz`` runs 20,000 programs from seeded random choices.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lint_rules.engine import linter_for
from lora_programs import HypothesisPick, notebook, problems, program

BOUNDED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TARGETS = {"newest": None, "old peft": "<0.10", "recent peft": ">=0.14"}


@pytest.mark.parametrize("target", sorted(TARGETS))
@BOUNDED
@given(data=st.data())
def test_generated_programs_keep_every_property(target, data):
    options = {"select": ["ALL"]} if TARGETS[target] is None else {
        "select": ["ALL"], "target-peft-version": TARGETS[target]}
    source = program(HypothesisPick(data))
    assert problems(source, linter_for(options)) == [], source


@settings(BOUNDED, max_examples=30)
@given(data=st.data())
def test_generated_notebooks_keep_every_property(data):
    source = notebook(program(HypothesisPick(data)))
    assert problems(source, linter_for({"select": ["ALL"]}), "gen.ipynb") == [], source


def test_the_properties_catch_what_they_claim():
    """The checker itself: a linter that loses a comment, moves a finding off the file or crashes
    is reported."""
    from lint_rules.engine import FixResult

    class Broken:
        def __init__(self, lint, fix):
            self.lint, self.fix = lint, fix

    good = linter_for({"select": ["ALL"]})
    source = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, nit_lora_weights=True)  # keep\n"
    assert problems(source, good) == []
    no_comment = Broken(good.lint, lambda s, f, unsafe: FixResult(s.replace("  # keep", ""), [], []))
    assert any(p.startswith("comment lost: '# keep'") for p in problems(source, no_comment))
    import dataclasses

    from lint_rules.violation import Location
    off_file = Broken(lambda s, f: [dataclasses.replace(v, location=Location(9, 1)) for v in good.lint(s, f)],
                      good.fix)
    assert any(p.startswith("location outside the file") for p in problems(source, off_file))

    def crash(s, f):
        raise KeyError("boom")

    assert problems(source, Broken(crash, good.fix)) == ["internal error (lint): KeyError: 'boom'"]
    twice = Broken(good.lint, lambda s, f, unsafe: FixResult(s + "\n", [], []))
    assert "a second fix changed the file" in problems(source, twice)


def test_the_target_modules_fix_never_suggests_modules_the_call_excludes_anyway():
    """Found by make fuzz: with ``modules_to_save="lm_head"`` (a string, read by peft letter by
    letter, so every module under ``h`` is excluded) LORA001 suggested ``c_fc``, whose fix still
    matched nothing."""
    source = ("import peft\n\nconfig = peft.LoraConfig(modules_to_save=\"lm_head\", base_model_name_or_path=\"gpt2\", "
              "target_modules=[\"fc1\"])\n")
    linter = linter_for({"select": ["ALL"]})
    assert problems(source, linter) == []
    found = [v for v in linter.lint(source, "a.py") if v.code == "LORA001"]
    assert len(found) == 1 and found[0].fix is None and "equivalent" not in found[0].message
    fixable = source.replace('modules_to_save="lm_head"', 'modules_to_save=["lm_head"]')
    assert "target_modules=[\"c_fc\"]" in linter.fix(fixable, "a.py", unsafe=True).source


REVEALING = ("from peft import LoraConfig as LC\n\n"
             "# lora-lint: model=microsoft/Phi-3-mini-4k-instruct\n"
             "configs = {'a': LC(Layers_pattern=\"h\", target_modules=[\"v_proj\"], layers_to_transform=3)}\n")


def test_a_finding_a_fix_reveals_is_no_broken_property():
    """Found by make fuzz (seed 244): correcting the misspelt ``Layers_pattern`` lets LORA006 check
    ``layers_pattern="h"`` on Phi-3 (whose layers are ``layers``), a finding the fixed program has
    on its own; only findings the fix removes without fixing them, or adds that the fixed program
    does not have, break the property."""
    from lint_rules.engine import FixResult

    linter = linter_for({"select": ["ALL"]})
    before = {v.code for v in linter.lint(REVEALING, "a.py")}
    fixed = linter.fix(REVEALING, "a.py", unsafe=True)
    assert "LORA006" not in before and "LORA006" in {v.code for v in fixed.violations}
    assert problems(REVEALING, linter) == []

    class Broken:
        lint = staticmethod(linter.lint)

        def __init__(self, change, claims=True):
            self.change, self.claims = change, claims

        def fix(self, source, filename, unsafe):
            result = linter.fix(source, filename, unsafe=unsafe)
            return FixResult(result.source, self.change(result.violations), result.fixed if self.claims else [])

    dropped = problems(REVEALING, Broken(lambda found: [v for v in found if v.code != "LORA006"]))
    assert dropped and dropped[0].startswith("the findings left after fixing are not"), dropped
    forgot = problems(REVEALING, Broken(lambda found: found, claims=False))
    assert forgot and forgot[0].startswith("fixing removed other findings"), forgot
