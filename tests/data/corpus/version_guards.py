"""Tests of a library that supports old and new peft: version guards in their usual forms."""
import importlib.metadata
import inspect

import pytest
from packaging import version
from peft import LoraConfig

PEFT_VERSION = version.parse(importlib.metadata.version("peft"))

try:
    from peft.tuners.lora.layer import DoraLinearLayer  # noqa: F401
    HAS_DORA = True
except ImportError:
    HAS_DORA = False


def supports_rslora():
    return "use_rslora" in inspect.signature(LoraConfig).parameters


def build(use_dora=False):
    kwargs = dict(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"])
    if HAS_DORA:
        kwargs["use_dora"] = use_dora
    return LoraConfig(**kwargs)


@pytest.mark.skipif(PEFT_VERSION < version.parse("0.9.0"), reason="DoRA needs peft 0.9")
def test_dora():
    assert LoraConfig(r=8, lora_alpha=16, use_dora=True).use_dora


def test_rslora():
    if not supports_rslora():
        pytest.skip("rsLoRA needs peft 0.8")
    assert LoraConfig(r=8, lora_alpha=16, use_rslora=True).use_rslora


def test_pissa():
    pytest.importorskip("peft", minversion="0.11.0")
    LoraConfig(r=8, lora_alpha=8, init_lora_weights="pissa")


def test_fallback():
    try:
        config = LoraConfig(r=8, lora_alpha=16, use_dora=True)
    except Exception:
        config = LoraConfig(r=8, lora_alpha=16)
    assert config.r == 8


def test_all_linear_unguarded():
    LoraConfig(r=8, lora_alpha=16, target_modules="all-linear")  # expect: LORA102


if HAS_DORA:
    DORA = LoraConfig(r=8, lora_alpha=16, use_dora=True)
RSLORA = LoraConfig(r=8, lora_alpha=16, use_rslora=True)  # expect: LORA101
