"""The fixtures, markers and --lora-report as users run them (pytester), with and without xdist."""
from __future__ import annotations

import pytest

pytest.importorskip("peft")

USES_FIXTURES = """
import pytest
from pytest_lora import assert_trainable_params, assert_base_frozen, assert_device_placement

def test_tiny(lora_tiny_model, lora_apply):
    peft_model = lora_apply(lora_tiny_model("llama"), target_modules=["q_proj", "v_proj"], r=4)
    assert_trainable_params(peft_model)
    assert_base_frozen(peft_model)
    assert_device_placement(peft_model, device="cpu")

def test_fresh_each_call(lora_tiny_model):
    assert lora_tiny_model("gpt2") is not lora_tiny_model("gpt2")

def test_skeleton(lora_skeleton, lora_apply):
    model = lora_skeleton("gpt2")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert sum(p.numel() for p in model.parameters()) == 124439808  # published
    assert_trainable_params(lora_apply(model, {"target_modules": ["c_attn"], "r": 8}))
"""


def test_fixtures_work_for_users(pytester):
    pytester.makepyfile(USES_FIXTURES)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_devices_marker_runs_present_devices_and_skips_absent_ones(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.lora_devices("cpu", "meta", "cuda:7", "tpu")
        def test_on(lora_device, lora_tiny_model):
            model = lora_tiny_model("qwen2")
            assert {p.device.type for p in model.parameters()} == {lora_device.partition(":")[0]}

        def test_default_is_present_devices(lora_device):
            assert lora_device in ("cpu", "cuda", "mps")
    """)
    result = pytester.runpytest("-rs", "-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "*test_on?cpu? PASSED*", "*test_on?meta? PASSED*", "*test_on?cuda:7? SKIPPED*",
        "*test_default_is_present_devices?cpu? PASSED*",
        "SKIPPED*lora_devices: cuda:7 is not available here*",
        "SKIPPED*lora_devices: tpu is not available here (unknown device 'tpu'*",
    ])
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == 2 and outcomes.get("failed", 0) == 0


def test_gpu_marker_skips_with_the_reason_without_cuda(pytester):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the skip path is for CPU-only machines")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gpu
        def test_needs_gpu():
            raise AssertionError("must not run without CUDA")
    """)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*gpu: no CUDA device*"])


@pytest.mark.parametrize(("device", "reason"), [
    ("cuda", None), ("cuda:0", None), ("cuda:1", "cuda:1 requested but only 1 CUDA device(s) are present"),
    ("cuda:x", "unknown device 'cuda:x'; expected one of cpu, meta, cuda[:N], mps"),
    ("cuda:-1", "unknown device 'cuda:-1'; expected one of cpu, meta, cuda[:N], mps"),
])
def test_device_reasons_on_a_one_gpu_machine(monkeypatch, device, reason):
    torch = pytest.importorskip("torch")
    from pytest_lora.devices import missing_reason

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert missing_reason(device) == reason


def test_gpu_count_marker_with_one_gpu(pytester, monkeypatch):
    # what a one-GPU machine sees: gpu runs, gpu(count=2) is skipped with both counts
    import pytest_lora.devices

    monkeypatch.setattr(pytest_lora.devices, "missing_reason", lambda device: None)
    monkeypatch.setattr(pytest_lora.devices, "cuda_count", lambda: 1)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gpu
        def test_one():
            pass

        @pytest.mark.gpu(count=2)
        def test_two():
            raise AssertionError("must not run on one GPU")
    """)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*gpu: needs 2 CUDA devices, 1 present*"])


def test_gpu_marker_on_a_class_a_module_or_a_parameter_is_found(pytester, monkeypatch):
    """The marker is looked for on every node above an item (the plugin skips the per-item
    lookup in a suite where no node carries it)."""
    import pytest_lora.devices

    monkeypatch.setattr(pytest_lora.devices, "missing_reason", lambda device: "no CUDA device (simulated)")
    monkeypatch.setattr(pytest_lora.devices, "cuda_count", lambda: 0)
    must_not_run = '    raise AssertionError("must not run without CUDA")\n'
    pytester.makepyfile(
        test_marked_module="import pytest\n\npytestmark = pytest.mark.gpu\n\n\ndef test_module():\n" + must_not_run,
        test_marked_parts=(
            "import pytest\n\n\n@pytest.mark.gpu\nclass TestOnGpu:\n    def test_method(self):\n    "
            + must_not_run + "\n\n@pytest.mark.parametrize('n', [1, pytest.param(2, marks=pytest.mark.gpu)])\n"
            "def test_param(n):\n    assert n == 1\n\n\ndef test_plain():\n    pass\n"))
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=3)
    result.stdout.fnmatch_lines(["SKIPPED*gpu: no CUDA device (simulated)*"])


def test_skeletons_are_named_like_pretrained_models():
    pytest.importorskip("torch")
    from pytest_lora.apply import apply_lora
    from pytest_lora.skeletons import build_skeleton

    model = build_skeleton("openai-community/gpt2")
    assert model.config._name_or_path == "openai-community/gpt2"
    assert apply_lora(model, target_modules=["c_attn"])  # recorded under that name
    from pytest_lora.report import RECORDS

    assert RECORDS.pop()["model"] == "openai-community/gpt2"


REPORTED = """
import pytest

@pytest.mark.parametrize("r", [2, 4, 8])
def test_apply(lora_tiny_model, lora_apply, r):
    lora_apply(lora_tiny_model("llama"), target_modules=["q_proj"], r=r)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_report_summarizes_every_applied_config(pytester, workers):
    pytester.makepyfile(REPORTED)
    result = pytester.runpytest_subprocess("--lora-report", "-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*LoRA configs applied*", "model*r*targets*trainable*total*%*device"])
    rows = [line for line in result.stdout.lines if line.startswith("llama (LlamaForCausalLM)")]
    assert sorted(row.split()[2] for row in rows) == ["2", "4", "8"]
    assert all(row.split()[3] == "q_proj" and row.endswith("cpu") for row in rows)


def test_report_lists_only_this_sessions_configs(pytester):
    # in-process sessions (pytester, pytest.main twice) share the module's record list
    import pytest_lora.report  # noqa: F401  (kept across the inline runs, as in one process)

    pytester.makepyfile(REPORTED)
    pytester.runpytest("--lora-report", "-p", "no:cacheprovider").assert_outcomes(passed=3)
    result = pytester.runpytest("--lora-report", "-p", "no:cacheprovider", "-k", "2")
    result.assert_outcomes(passed=1, deselected=2)
    rows = [line for line in result.stdout.lines if line.startswith("llama (LlamaForCausalLM)")]
    assert [row.split()[2] for row in rows] == ["2"]


def test_no_report_without_the_flag(pytester):
    pytester.makepyfile(REPORTED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert "LoRA configs applied" not in result.stdout.str()


def test_missing_models_extra_names_the_extra(pytester):
    pytester.makeconftest("""
        import sys
        sys.modules["peft"] = None  # what an environment without peft looks like to import
    """)
    pytester.makepyfile("""
        def test_apply(lora_apply):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*need peft: pip install 'pytest-lora[[]models[]]'*"])
    assert "Traceback" not in result.stdout.str()


def test_disabled_with_no_lora(pytester):
    pytester.makepyfile("""
        def test_tiny(lora_tiny_model):
            pass
    """)
    result = pytester.runpytest("-p", "no:lora", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'lora_tiny_model' not found*"])


def test_help_lists_the_report_option(pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--lora-report*"])


def test_collecting_without_the_fixtures_imports_nothing_heavy(pytester):
    pytester.makeconftest("""
        import sys

        def pytest_sessionfinish(session):
            heavy = [m for m in ("torch", "transformers", "peft", "libcst") if m in sys.modules]
            print("HEAVY=" + ",".join(heavy))
    """)
    pytester.makepyfile("""
        def test_plain():
            assert True
    """)
    result = pytester.runpytest_subprocess("--co", "-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["HEAVY="])


SKELETON_IDS = ["meta-llama/Llama-2-7b-hf", "mistralai/Mixtral-8x7B-v0.1", "meta-llama/Llama-2-70b-hf",
                "meta-llama/Llama-3.1-70B"]


def test_skeletons_of_7b_to_70b_models_are_exact(lora_skeleton):
    """Their build times are measured by `make bench` (benchmarks/bench_skeletons.py), not here."""
    import json
    from pathlib import Path

    published = json.loads((Path(__file__).parent / "data" / "published_param_counts.json").read_text())["counts"]
    for model_id in SKELETON_IDS:
        model = lora_skeleton(model_id)
        assert sum(p.numel() for p in model.parameters()) == published[model_id]["total"], model_id


def test_skeleton_and_tiny_model_take_the_same_dtype_names(lora_skeleton, lora_tiny_model):
    torch = pytest.importorskip("torch")
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("half", torch.float16),
                        (torch.bfloat16, torch.bfloat16)):
        assert {p.dtype for p in lora_skeleton("gpt2", dtype=name).parameters()} == {dtype}
        assert {p.dtype for p in lora_tiny_model("gpt2", dtype=name).parameters()} == {dtype}
