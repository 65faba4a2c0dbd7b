"""LORA201 leaves peft's defaults alone (issue 9 item 5): a call that writes neither ``r`` nor
``lora_alpha`` is flagged only with ``check-defaults = true``."""
from __future__ import annotations

import pytest

from lint_rules.config import ConfigError, check_settings
from lint_rules.engine import lint_source

BARE = "from peft import LoraConfig\n\nLoraConfig()\nLoraConfig(target_modules=['q_proj'], lora_dropout=0.1)\n"


def codes(source: str, **settings) -> list[tuple[str, int]]:
    return [(v.code, v.location.row) for v in lint_source(source, settings=settings, select=["LORA201"])]


def test_defaults_are_not_flagged_unless_asked():
    assert codes(BARE) == []
    assert codes(BARE, rules={"LORA201": {"check-defaults": True}}) == [("LORA201", 3), ("LORA201", 4)]
    assert codes(BARE, **{"check-defaults": True}) == [("LORA201", 3), ("LORA201", 4)]


@pytest.mark.parametrize("written", ["r=16", "lora_alpha=32", "r=4, lora_alpha=4"])
def test_a_call_that_writes_r_or_lora_alpha_is_still_checked(written):
    assert codes(f"from peft import LoraConfig\n\nLoraConfig({written})\n") == [("LORA201", 3)]


@pytest.mark.parametrize("value", ["yes", 1])
def test_check_defaults_must_be_true_or_false(value):
    with pytest.raises(ConfigError, match="check-defaults' must be true or false"):
        check_settings({"rules": {"LORA201": {"check-defaults": value}}})
    with pytest.raises(ConfigError, match="check-defaults' must be true or false"):
        check_settings({"check-defaults": value})
