"""LORA005's examples against the installed peft: a read the rule reports raises
AttributeError; a write it reports raises nothing, and peft does not see it (the field it
meant keeps its value, ``to_dict()`` and ``save_pretrained()`` leave it out). Examples the
rule passes for the installed release run without an AttributeError."""
from __future__ import annotations

import json
import os
import warnings

import pytest

from lint_rules.engine import lint_source
from lint_rules.knowledge import peft_releases
from lint_rules.rules.lora005_unknown_config_attribute import UnknownConfigAttribute

peft = pytest.importorskip("peft")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if peft.__version__ not in peft_releases.versions():
    pytest.skip(f"installed peft {peft.__version__} is not in the data", allow_module_level=True)

SETTINGS = {"target-peft-version": f"=={peft.__version__}"}


def _findings(code: str) -> list:
    return lint_source(code, filename="case.py", settings=SETTINGS, select=["LORA005"])


def _run(code: str) -> dict:
    namespace: dict = {"__name__": "case"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "case.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("code", [pytest.param(c.code, id=f"invalid-{n}")
                                  for n, c in enumerate(UnknownConfigAttribute.INVALID, 1)])
def test_peft_does_what_the_message_says(code, tmp_path):
    found = _findings(code)
    if not found:  # the attribute exists in the installed release: the code runs
        _run(code)
        return
    (violation,) = found
    if "reading it raises AttributeError" in violation.message:
        with pytest.raises(AttributeError):
            _run(code)
        return
    namespace = _run(code)  # a write: no error
    configs = [v for v in namespace.values() if isinstance(v, peft.LoraConfig)]
    (config,) = configs
    attribute = violation.message.split("`")[1].split(".")[1].split(" ")[0]
    assert getattr(config, attribute) is not None  # Python did set it
    assert attribute not in config.to_dict()
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert attribute not in saved
    if "keeps its value" in violation.message:
        meant = violation.message.split("keeps its value")[0].split("`")[-2]
        assert saved[meant] != getattr(config, attribute)  # the value written went nowhere


@pytest.mark.parametrize("code", [pytest.param(c.code, id=f"valid-{n}")
                                  for n, c in enumerate(UnknownConfigAttribute.VALID, 1)])
def test_valid_examples_have_no_finding_on_the_installed_release(code):
    assert _findings(code) == []
