"""``pytest --lora-check``'s runtime half on config files (issue 13 item 4): an adapter_config.json or an
axolotl / LLaMA-Factory YAML whose settings are all known is applied with the installed peft to its
model's full-size skeleton on meta, as the framework would."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("peft")
pytest.importorskip("torch")

# Imported here, once (see tests/test_lint_check_runtime.py): pytester drops what an in-process run imports.
import lint_rules.engine  # noqa: E402, F401
import pytest_lora.runtime_check as runtime_check  # noqa: E402
from pytest_lora.config_files import configs  # noqa: E402

DATA = Path(__file__).parent / "data" / "trainer_yaml"
ONLY_TYPOS = ("--lora-check", "--lora-check-select", "LORA003", "-p", "no:cacheprovider")
SUMMARY = "*lora-check: configs applied with the installed peft on meta*"

# axolotl's own example (tests/data/trainer_yaml/axolotl-pythia-lora.yml): `adapter: lora` on line 11
PYTHIA = (DATA / "axolotl-pythia-lora.yml").read_text()
# LLaMA-Factory's qwen3 example with its targets written out instead of `all`
QWEN3 = (DATA / "llamafactory-qwen3_lora_sft.yaml").read_text().replace(
    "lora_target: all", "lora_target: q_proj,v_proj,query_key_value")
LLAMA3 = (DATA / "llamafactory-pissa-llama3_lora_sft.yaml").read_text().replace(
    "lora_target: all\npissa_init: true\npissa_iter: 16\npissa_convert: true\n",
    "lora_target: q_proj,input_layernorm\n")


def _adapter(**fields) -> str:
    """An adapter_config.json as peft's save_pretrained writes it (indented, sorted keys)."""
    saved = {"alpha_pattern": {}, "base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "bias": "none",
             "fan_in_fan_out": False, "inference_mode": True, "lora_alpha": 16, "lora_dropout": 0.05,
             "modules_to_save": None, "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "task_type": "CAUSAL_LM",
             "use_dora": False, "use_rslora": False}
    return json.dumps({**saved, **fields}, indent=2, sort_keys=True)


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_an_axolotl_config_gets_the_count_peft_gives(pytester, monkeypatch):
    pytester.makefile(".yml", axolotl=PYTHIA)
    calls = []
    original = runtime_check.verify
    monkeypatch.setattr(runtime_check, "verify", lambda *args: calls.append(args) or original(*args))
    result = pytester.runpytest(*ONLY_TYPOS[:-2])
    result.assert_outcomes(passed=1)
    # pythia-1.4b: 24 layers, hidden 2048, query_key_value 2048 -> 3 x 2048; r=16:
    # 24 x 16 x (2048 + 6144) = 3,145,728 (float32 adapter, grads, AdamW: 16 bytes each = 48 MiB)
    result.stdout.fnmatch_lines([SUMMARY, "axolotl.yml:11 * EleutherAI/pythia-1.4b-deduped * 3,145,728 * 48.0 MiB"])
    assert calls[0][-1] == "axolotl" and calls[0][3]["task_type"] == "CAUSAL_LM"
    # cached by content: a second run verifies nothing
    pytester.runpytest(*ONLY_TYPOS[:-2]).stdout.fnmatch_lines(["axolotl.yml:11 * 3,145,728 *"])
    assert len(calls) == 1


def test_a_llamafactory_target_that_matches_nothing_warns(pytester):
    pytester.makefile(".yaml", qwen3=QWEN3)
    result = pytester.runpytest(*ONLY_TYPOS)
    result.assert_outcomes(passed=1)
    line = _line_of(QWEN3, "finetuning_type: lora")
    # Qwen3-4B: 36 layers, hidden 2560, q_proj 2560 -> 32 x 128, v_proj 2560 -> 8 x 128; LLaMA-Factory's r=8:
    # 36 x 8 x ((2560 + 4096) + (2560 + 1024)) = 2,949,120
    result.stdout.fnmatch_lines([
        f"*PytestWarning: --lora-check: qwen3.yaml:{line}: target_modules entries ?'query_key_value'? match "
        "nothing in Qwen/Qwen3-4B-Instruct-2507*",
        SUMMARY, f"qwen3.yaml:{line} * Qwen/Qwen3-4B-Instruct-2507 * 2,949,120 *",
    ])


def test_a_trainer_config_peft_refuses_fails_with_peft_reason(pytester):
    pytester.makefile(".yaml", llama3=LLAMA3)
    result = pytester.runpytest(*ONLY_TYPOS)
    result.assert_outcomes(failed=1)
    line = _line_of(LLAMA3, "finetuning_type: lora")
    result.stdout.fnmatch_lines([
        f"llama3.yaml:{line}: peft refuses this config on meta-llama/Meta-Llama-3-8B-Instruct: ValueError: "
        "Target module LlamaRMSNorm((4096,), eps=*) is not supported.*",
    ])
    assert "Traceback" not in result.stdout.str()
    pytester.runpytest(*ONLY_TYPOS, "--lora-check-runtime=no").assert_outcomes(passed=1)


def test_a_saved_adapter_config_is_loaded_as_peft_loads_it_to_train(pytester):
    text = _adapter(future_option=True)
    pytester.path.joinpath("out").mkdir()
    pytester.path.joinpath("out", "adapter_config.json").write_text(text)
    result = pytester.runpytest(*ONLY_TYPOS)
    result.assert_outcomes(passed=1)
    line = _line_of(text, '"peft_type"')
    # inference_mode true as saved, trained as PeftModel.from_pretrained(..., is_trainable=True) does:
    # Llama-2-7b, 32 layers x 4 projections 4096 -> 4096, r=8: 32 x 4 x 8 x (4096 + 4096) = 8,388,608
    result.stdout.fnmatch_lines([
        f"*PytestWarning: --lora-check: out/adapter_config.json:{line}: the installed peft ignores "
        "?'future_option'? when it loads this adapter config*",
        SUMMARY, f"out/adapter_config.json:{line} * meta-llama/Llama-2-7b-hf * 8,388,608 * 128.0 MiB",
    ])


def test_a_saved_adapter_config_peft_refuses_fails(pytester):
    pytester.path.joinpath("adapter_config.json").write_text(_adapter(r=0))
    result = pytester.runpytest(*ONLY_TYPOS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["adapter_config.json:*: peft refuses this config on meta-llama/Llama-2-7b-hf: "
                                 "ValueError: `r` should be a positive integer value but the value passed is 0"])


def test_configs_the_framework_completes_at_run_time_are_not_verified(pytester):
    """lora_target_linear, `lora_target: all`, PiSSA: the framework decides the targets or the init."""
    for name in ("axolotl-phi-lora-3.5.yaml", "llamafactory-qwen3_lora_sft.yaml",
                 "llamafactory-pissa-llama3_lora_sft.yaml"):
        pytester.path.joinpath(name).write_text((DATA / name).read_text())
    result = pytester.runpytest(*ONLY_TYPOS)
    result.assert_outcomes(passed=3)
    assert "lora-check: configs applied" not in result.stdout.str()


@pytest.mark.parametrize("change", [
    ("lora_target: q_proj,v_proj,query_key_value", "lora_target: q_proj"),  # the plain config: verified
    ("stage: sft", "stage: rm"),  # a value head on top
    ("stage: sft", "stage: sft\nuse_unsloth: true"),
    ("stage: sft", "stage: sft\nresize_vocab: true"),  # the embeddings join modules_to_save
    ("lora_target: q_proj,v_proj,query_key_value\n", ""),  # no lora_target: every linear layer
    ("Qwen/Qwen3-4B-Instruct-2507", "someone/unknown-model-7b"),
    ("Qwen/Qwen3-4B-Instruct-2507", "google-t5/t5-base"),  # not a causal LM
])
def test_llamafactory_configs_are_verified_only_when_the_wrapped_model_is_known(change):
    found = configs("qwen3.yaml", QWEN3.replace(*change))
    assert len(found) == (1 if change[1] == "lora_target: q_proj" else 0)
    if found:
        assert found[0][1:] == ("Qwen/Qwen3-4B-Instruct-2507", "causal_lm",
                                {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]},
                                "llamafactory")


@pytest.mark.parametrize("change", [
    ("adapter: lora", "adapter: lora"),  # the plain config: verified
    ("lora_r: 16\n", ""),  # axolotl's default rank: its own
    ("lora_target_linear:", "lora_target_linear: true"),
    ("adapter: lora", "adapter: lora\nreward_model: true"),
    ("adapter: lora", "adapter: lora\nplugins:\n  - some.plugin.Plugin"),
    ("adapter: lora", "adapter: lora\nmodel_type: AutoModelForSequenceClassification"),
    ("lora_model_dir:", "lora_model_dir: ./saved"),  # the saved adapter's config holds
    ("lora_r: 16", 'lora_r: "16"'),  # axolotl's schema makes it 16; peft would refuse the string
])
def test_axolotl_configs_are_verified_only_when_everything_passed_is_known(change):
    found = configs("axolotl.yml", PYTHIA.replace(*change))
    assert len(found) == (1 if change[0] == change[1] else 0)


def test_axolotl_passes_no_targets_when_none_are_written():
    text = PYTHIA.replace("lora_target_modules:\n  - query_key_value\n", "")
    assert configs("axolotl.yml", text)[0][3]["target_modules"] == []


def test_under_xdist_config_file_rows_reach_the_controller_and_its_cache(pytester):
    pytest.importorskip("xdist")
    pytester.makefile(".yml", axolotl=PYTHIA)
    pytester.path.joinpath("adapter_config.json").write_text(_adapter())
    rows = [SUMMARY, "adapter_config.json:* * 8,388,608 *", "axolotl.yml:11 * 3,145,728 *"]
    first = pytester.runpytest_subprocess(*ONLY_TYPOS[:-2], "-n", "2", "-p", "xdist")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(rows)
    stored = json.loads(pytester.path.joinpath(".pytest_cache", "v", "lora_check", "runtime").read_text())
    assert sorted(row["trainable"] for rows_ in stored["files"].values() for row in rows_) == [3145728, 8388608]
    second = pytester.runpytest_subprocess(*ONLY_TYPOS[:-2], "-n", "2", "-p", "xdist")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(rows)


def test_axolotl_lets_fused_expert_parameters_take_no_dropout():
    """transformers 5 fuses Mixtral's experts: peft wraps w1/w2/w3 as parameters and refuses dropout
    there, while axolotl patches peft to drop it on those layers only (axolotl.loaders.adapter)."""
    config = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["w1", "w2", "w3"]}
    plain = runtime_check.verify(1, "mistralai/Mixtral-8x7B-v0.1", "causal_lm", dict(config))
    if "error" not in plain:
        pytest.skip("this transformers keeps Mixtral's experts as separate Linear layers")
    assert plain["error"] == "ValueError: lora.ParamWrapper does not work with lora_dropout != 0."
    axolotl = runtime_check.verify(1, "mistralai/Mixtral-8x7B-v0.1", "causal_lm", dict(config), "axolotl")
    without_dropout = runtime_check.verify(1, "mistralai/Mixtral-8x7B-v0.1", "causal_lm",
                                           {**config, "lora_dropout": 0.0})
    assert "error" not in axolotl and axolotl["trainable"] == without_dropout["trainable"] > 0


def test_a_model_the_task_cannot_build_is_not_peft_refusing():
    """A saved adapter's task_type names a model class this checkpoint has none of (T5 has no causal LM):
    nothing is proved, and nothing is blamed on peft."""
    saved = json.loads(_adapter(base_model_name_or_path="google-t5/t5-base", target_modules=["q", "v"]))
    assert runtime_check.verify(10, "google-t5/t5-base", "causal_lm", saved, "adapter_config") is None
    assert "error" not in runtime_check.verify(10, "google-t5/t5-base", "seq2seq_lm", saved, "adapter_config")
