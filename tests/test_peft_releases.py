"""The peft half of the knowledge base against facts known from outside it.

Release facts come from PyPI's listing and peft's changelog/source; the last tests check
the data for the installed release against peft's own behaviour (peft imported there only).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lint_rules.knowledge import peft_releases as pr

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- releases


def test_every_final_release_with_a_wheel():
    # PyPI lists 39 versions; 0.18.0rc0 is the one pre-release, so 38 remain
    assert len(pr.versions()) == 38
    assert pr.versions()[0] == "0.0.1" and pr.newest() == "0.21.2"
    assert pr.excluded() == {"0.18.0rc0": "pre-release"}
    assert "0.18.0rc0" not in pr.versions() and {"0.18.0", "0.18.1"} <= set(pr.versions())


def test_source_date_and_wheel_digest_are_pypis():
    assert pr.source()["date"] == "2026-10-01T10:26:34.085937Z"  # upload of peft 0.21.2
    data = json.loads(pr.DATA.read_text())
    assert data["releases"]["0.21.2"]["sha256"] == (
        "106ab6077ff72c54d21577f9af5970e34bac7582cb14209f7b2b511e322a4eae")


def test_versions_in():
    assert pr.versions_in(">=0.9,<0.11") == ["0.9.0", "0.10.0"]
    assert pr.versions_in("") == pr.versions()
    assert pr.versions_in("~=0.21.0") == ["0.21.0", "0.21.1", "0.21.2"]
    assert pr.versions_in("0.9") == ["0.9.0"]
    assert pr.versions_in(">=1.0") == []


def test_unknown_release_is_an_error():
    with pytest.raises(ValueError, match="0.99.0"):
        pr.lora_fields("0.99.0")


# --------------------------------------------------------------------------- keywords


def test_keyword_spans():
    assert pr.field_span("use_dora") == ("0.9.0", "0.21.2")
    assert pr.field_span("merge_weights") == ("0.0.1", "0.2.0")
    assert pr.field_span("enable_lora") == ("0.0.1", "0.2.0")
    assert pr.field_span("target_parameters") == ("0.17.0", "0.21.2")
    assert pr.field_span("no_such_keyword") is None
    assert "merge_weights" in pr.all_field_names()
    assert "merge_weights" not in pr.lora_fields("0.3.0")


def test_inherited_peft_config_keywords_are_included():
    fields = pr.lora_fields("0.21.2")
    for name in ("task_type", "base_model_name_or_path", "inference_mode", "revision", "peft_type"):
        assert name in fields


def test_alpha_and_dropout_defaults():
    for version in ("0.0.1", "0.3.0"):
        assert pr.field_default("lora_alpha", version) is None
        assert pr.field_default("lora_dropout", version) is None
    assert pr.field_default("lora_alpha", "0.4.0") == 8
    assert pr.field_default("lora_dropout", "0.4.0") == 0.0
    assert pr.field_default("r", "0.0.1") == 8


def test_factory_defaults_are_expressions():
    assert pr.field_default("rank_pattern", "0.21.2") == {"expr": "dict()"}


# --------------------------------------------------------------------------- option values


def test_init_lora_weights_names():
    assert pr.option_span("init_lora_weights", "pissa") == ("0.11.0", "0.21.2")
    assert pr.option_span("init_lora_weights", "pissa_niter_16") == ("0.11.0", "0.21.2")
    assert pr.option_span("init_lora_weights", "lora_ga") == ("0.19.0", "0.21.2")
    assert pr.option_span("init_lora_weights", "corda") == ("0.15.0", "0.21.2")
    assert pr.option_span("init_lora_weights", "loftq") == ("0.7.0", "0.21.2")
    assert pr.option_span("init_lora_weights", True) == ("0.3.0", "0.21.2")
    assert pr.option_span("init_lora_weights", "pissa_niter_x") is None
    assert pr.option_span("init_lora_weights", "bogus") is None


def test_lora_ga_works_but_is_missing_from_the_literal():
    assert pr.recognizes("init_lora_weights", "lora_ga", "0.19.0")
    assert "lora_ga" not in pr.option_values("init_lora_weights", "0.21.2")["literal"]
    assert "lora_ga" not in pr.field_annotation("init_lora_weights", "0.21.2")


def test_before_0_7_any_string_meant_the_default_init():
    assert pr.accepts("init_lora_weights", "pissa", "0.6.2")
    assert not pr.recognizes("init_lora_weights", "pissa", "0.6.2")
    assert not pr.accepts("init_lora_weights", "pissa", "0.7.0")
    assert not pr.accepts("init_lora_weights", True, "0.2.0")  # no such keyword yet


def test_bias_values():
    for value in ("none", "all", "lora_only"):
        assert pr.option_span("bias", value) == ("0.0.1", "0.21.2")
    assert not pr.accepts("bias", "bogus", "0.21.2")


def test_task_type_checked_from_0_14():
    assert pr.accepts("task_type", "causal_lm", "0.13.2")
    assert not pr.recognizes("task_type", "causal_lm", "0.13.2")
    assert not pr.accepts("task_type", "causal_lm", "0.14.0")
    assert pr.option_span("task_type", "CAUSAL_LM") == ("0.0.1", "0.21.2")
    assert set(pr.task_types("0.0.1")) == {"SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", "TOKEN_CLS"}


def test_unknown_option_name():
    with pytest.raises(ValueError, match="lora_alpha"):
        pr.option_span("lora_alpha", 16)


# --------------------------------------------------------------------------- target modules


def test_all_linear():
    assert pr.all_linear_since() == "0.8.0"
    assert not pr.is_all_linear("all-linear", "0.7.1")
    assert pr.is_all_linear("all-linear", "0.8.0")
    assert pr.is_all_linear("ALL-LINEAR", "0.21.2")  # peft lowers the string before comparing


@pytest.mark.parametrize("model_type, modules", [
    ("gpt2", ["c_attn"]), ("llama", ["q_proj", "v_proj"]), ("mistral", ["q_proj", "v_proj"]),
    ("qwen2", ["q_proj", "v_proj"]), ("gemma", ["q_proj", "v_proj"]), ("bloom", ["query_key_value"]),
    ("gpt_neox", ["query_key_value"]), ("falcon", ["query_key_value"]), ("bert", ["query", "value"]),
    ("roberta", ["query", "value"]), ("t5", ["q", "v"]), ("opt", ["q_proj", "v_proj"]),
    ("bart", ["q_proj", "v_proj"]),
])
def test_default_target_modules(model_type, modules):
    assert pr.default_target_modules(model_type) == modules


def test_default_target_modules_by_release():
    assert pr.default_target_modules("gpt2", "0.0.1") == ["c_attn"]
    assert pr.default_target_modules("no_such_model") is None


def test_not_found_error():
    assert [pr.not_found_error(v) for v in ("0.0.1", "0.0.2")] == [None, None]
    for version in pr.versions_in(">=0.1.0,<0.21.0"):
        assert pr.not_found_error(version) == "ValueError"
    for version in pr.versions_in(">=0.21.0"):
        assert pr.not_found_error(version) == "NoMatchingPeftModuleError"


# --------------------------------------------------------------------------- the module and the file


def test_loader_never_imports_peft():
    code = ("import sys; from lint_rules.knowledge import peft_releases as p; p.lora_fields(p.newest()); "
            "p.installed_version(); print('peft' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def test_committed_file_is_in_canonical_form():
    spec = importlib.util.spec_from_file_location("gen_peft_releases", ROOT / "scripts" / "gen_peft_releases.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = pr.DATA.read_text()
    assert gen.render(json.loads(text)) + "\n" == text


# --------------------------------------------------------------------------- against the installed peft


@pytest.fixture(scope="module")
def peft():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    module = pytest.importorskip("peft")
    if module.__version__ not in pr.versions():
        pytest.skip(f"installed peft {module.__version__} is not in the data")
    return module


def test_fields_match_the_installed_dataclass(peft):
    fields = {f.name: f for f in dataclasses.fields(peft.LoraConfig) if f.init}
    data = pr.lora_fields(peft.__version__)
    assert set(fields) == set(data)
    for name, f in fields.items():
        if f.default is dataclasses.MISSING:
            assert data[name] == {"expr": f"{f.default_factory.__name__}()"}
        else:
            assert data[name] == f.default, name


def test_task_types_match(peft):
    assert pr.task_types(peft.__version__) == {m.name: m.value for m in peft.TaskType}


def test_target_module_table_matches(peft):
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as table
    assert {m: pr.default_target_modules(m, peft.__version__) for m in table} == table


def _build(peft, **kwargs):
    torch = pytest.importorskip("torch")
    net = torch.nn.Module()
    net.lin = torch.nn.Linear(8, 8)
    peft.inject_adapter_in_model(peft.LoraConfig(r=2, target_modules=kwargs.pop("target_modules", ["lin"]),
                                                 **kwargs), net)


@pytest.mark.parametrize("value", [True, False, "gaussian", "Gaussian", "pissa", "pissa_niter_2", "OLoRA",
                                   "orthogonal", "pissa_niter_x", "pissaX", "bogus"])
def test_init_lora_weights_as_peft_behaves(peft, value):
    if pr.accepts("init_lora_weights", value, peft.__version__):
        _build(peft, init_lora_weights=value)
    else:
        with pytest.raises(ValueError):
            _build(peft, init_lora_weights=value)


@pytest.mark.parametrize("value", ["none", "all", "lora_only", "boft_only", "bogus"])
def test_bias_as_peft_behaves(peft, value):
    if pr.accepts("bias", value, peft.__version__):
        _build(peft, bias=value)
    else:
        with pytest.raises(NotImplementedError):
            _build(peft, bias=value)


def test_task_type_and_not_found_as_peft_behaves(peft):
    assert not pr.accepts("task_type", "causal_lm", peft.__version__)
    with pytest.raises(ValueError):
        peft.LoraConfig(task_type="causal_lm")
    error = getattr(peft, pr.not_found_error(peft.__version__))
    with pytest.raises(error):
        _build(peft, target_modules=["nope"])


# --------------------------------------------------------------------------- validation and attributes


def test_config_checks_by_release():
    assert pr.config_raises("0.13.2", {"task_type"}) is None
    assert pr.config_raises("0.14.0", {"task_type"}) == "ValueError"
    assert pr.config_raises("0.14.0", {"use_dora", "lora_bias"}) == "ValueError"
    assert pr.config_raises("0.21.2", {"r"}) is None  # peft never checks the rank in the config


def test_build_checks_by_release():
    assert pr.build_checks("0.5.0")["rank_not_positive"] == "no_adapter"
    assert pr.build_checks("0.6.0")["rank_not_positive"] == "raises"
    assert pr.build_checks("0.6.2")["unknown_init_raises"] is False
    assert pr.build_checks("0.7.0")["unknown_init_raises"] is True
    assert pr.build_checks("0.0.1")["unknown_task_type"] == "KeyError"
    assert pr.build_checks("0.13.2")["unknown_task_type"] == "PeftModel"
    assert pr.build_checks("0.1.0")["target_regex"] is None
    assert pr.build_checks("0.21.2")["target_regex"] == "fullmatch"
    assert {pr.build_checks(v)["dropout_above"] for v in pr.versions()} == {0.0}


def test_config_attributes_by_release():
    assert "use_dora" not in pr.config_attributes("0.8.2")
    assert {"use_dora", "to_dict", "save_pretrained", "from_pretrained", "push_to_hub"} <= pr.config_attributes("0.9.0")
    assert "rank" not in pr.config_attributes("0.21.2")


def test_attributes_match_the_installed_config(peft):
    names = pr.config_attributes(peft.__version__)
    instance = peft.LoraConfig()
    assert {a for a in dir(instance) if not a.startswith("_")} <= names
    assert {f.name for f in dataclasses.fields(instance)} <= names


def test_config_checks_as_peft_behaves(peft):
    with pytest.raises(ValueError):
        peft.LoraConfig(use_dora=True, lora_bias=True)
    peft.LoraConfig(r=0, lora_dropout=2.0, bias="lora", init_lora_weights="bogus")  # only the build checks them
