"""``pytest --lora-check``'s runtime half (issue 13 item 4): each static LoraConfig is constructed with
the installed peft and applied to its model's full-size skeleton on meta."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("peft")
pytest.importorskip("torch")

# Imported here, once: pytester drops the modules an in-process run imports, and a later run would
# then mix a package kept from before (lint_rules) with fresh copies of its submodules and libcst.
import lint_rules.engine  # noqa: E402, F401
import pytest_lora.runtime_check as runtime_check  # noqa: E402

TRAIN = '''\
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
config = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"])
get_peft_model(model, config)
'''
# peft refuses a norm as a target; LORA003 (typos) is the only rule selected, so lint passes it
REFUSED = TRAIN.replace('["q_proj", "v_proj"]', '["q_proj", "input_layernorm"]')
PARTIAL = TRAIN.replace('["q_proj", "v_proj"]', '["q_proj", "v_proj", "query_key_value"]')
ONLY_TYPOS = ("--lora-check", "--lora-check-select", "LORA003")


def test_a_config_peft_refuses_fails_with_peft_reason(pytester):
    pytester.makepyfile(train=REFUSED)
    result = pytester.runpytest(*ONLY_TYPOS, "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "train.py:5: peft refuses this config on meta-llama/Llama-2-7b-hf: ValueError: Target module "
        "LlamaRMSNorm((4096,), eps=1e-06) is not supported.*",
    ])
    pytester.runpytest(*ONLY_TYPOS, "--lora-check-runtime=no", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_summary_gives_the_exact_count_and_the_memory(pytester):
    pytester.makepyfile(train=TRAIN)
    result = pytester.runpytest(*ONLY_TYPOS, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # 32 layers x (q 4096x16 + 16x4096, v the same) = 8,388,608; float32 adapters, grads, AdamW: 16 bytes each
    result.stdout.fnmatch_lines([
        "*lora-check: configs applied with the installed peft on meta*",
        "config * model * trainable * % * adapter+grads+AdamW",
        "train.py:5 * meta-llama/Llama-2-7b-hf * 8,388,608 * 0.1243% * 128.0 MiB",
    ])


def test_target_entries_that_match_nothing_warn(pytester):
    pytester.makepyfile(train=PARTIAL)
    result = pytester.runpytest(*ONLY_TYPOS, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*PytestWarning: --lora-check: train.py:5: target_modules entries "
                                 "?'query_key_value'? match nothing in meta-llama/Llama-2-7b-hf*"])


def test_results_are_cached_by_content(pytester, monkeypatch):

    pytester.makepyfile(train=TRAIN)
    calls = []
    original = runtime_check.verify
    monkeypatch.setattr(runtime_check, "verify", lambda *args: calls.append(args) or original(*args))
    pytester.runpytest(*ONLY_TYPOS).assert_outcomes(passed=1)
    second = pytester.runpytest(*ONLY_TYPOS)
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["train.py:5 * 8,388,608 *"])
    assert len(calls) == 1
    pytester.makepyfile(train=TRAIN.replace("r=16", "r=8"))
    pytester.runpytest(*ONLY_TYPOS).stdout.fnmatch_lines(["train.py:5 * 4,194,304 *"])
    assert len(calls) == 2



def test_under_xdist_the_controller_prints_every_row_and_keeps_the_cache(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(train=TRAIN, other=TRAIN.replace("r=16", "r=8"))
    rows = ["*lora-check: configs applied with the installed peft on meta*",
            "other.py:5 * 4,194,304 *", "train.py:5 * 8,388,608 *"]
    first = pytester.runpytest_subprocess(*ONLY_TYPOS, "-n", "2", "-p", "xdist")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(rows)
    # the rows the workers computed reached the controller, which stored them for the next run
    stored = json.loads(pytester.path.joinpath(".pytest_cache", "v", "lora_check", "runtime").read_text())
    assert sorted(row["trainable"] for rows_ in stored["files"].values() for row in rows_) == [4194304, 8388608]
    second = pytester.runpytest_subprocess(*ONLY_TYPOS, "-n", "2", "-p", "xdist")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(rows)
