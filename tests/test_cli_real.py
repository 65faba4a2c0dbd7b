"""``lora-lint`` with the real rules and knowledge base: the README's example, ``rules``, ``rule``,
``modules`` and the pre-commit hook definitions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lint_rules.cli import main
import sarif_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_example_is_flagged_and_its_fixed_version_passes(capsys):
    code, out, _ = run(capsys, "--no-cache", "--output-format", "json", str(EXAMPLES / "seed_gpt2.py"))
    assert code == 1
    assert "LORA001" in {v["code"] for v in json.loads(out)}
    assert run(capsys, "--no-cache", str(EXAMPLES / "seed_gpt2_fixed.py"))[:2] == (0, "")


def test_rules_lists_every_registered_rule(capsys):
    from lint_rules.catalog import all_rules

    code, out, _ = run(capsys, "rules")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == list(all_rules())


def test_rule_explains_with_examples(capsys):
    code, out, _ = run(capsys, "rule", "target-modules-not-found")
    assert code == 0 and out.startswith("# LORA001 target-modules-not-found")
    assert "## Flagged" in out and "```python" in out


def test_modules_of_a_model(capsys):
    code, out, err = run(capsys, "modules", "gpt2")
    assert code == 0 and "gpt2" in err
    leaves = [line.split()[0] for line in out.splitlines()]
    assert "c_attn" in leaves and "q_proj" not in leaves
    code, out, _ = run(capsys, "modules", "gpt2", "--all")
    assert "transformer.h.0.attn.c_attn  Conv1D" in out.splitlines()


def test_modules_of_an_unknown_model_is_an_error(capsys):
    code, _, err = run(capsys, "modules", "no-such-org/no-such-model-xyz")
    assert code == 2 and "no-such-model-xyz" in err


def _counts(out: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[2] for line in out.splitlines()}


@pytest.mark.parametrize(("model", "leaf", "count"), [
    ("meta-llama/Llama-2-70b-hf", "q_proj", "x80"),  # the llama default has 32
    ("Qwen/Qwen2.5-7B", "q_proj", "x28"),
    ("microsoft/phi-2", "q_proj", "x32"),
    ("google/flan-t5-base", "wi_0", "x24"),  # 12 encoder + 12 decoder blocks, gated
])
def test_modules_counts_are_the_checkpoints(capsys, model, leaf, count):
    code, out, err = run(capsys, "modules", model)
    assert code == 0 and _counts(out)[leaf] == count, out


def test_modules_defaults_to_the_checkpoints_own_class(capsys):
    _, _, err = run(capsys, "modules", "google/flan-t5-base")
    assert "T5ForConditionalGeneration" in err and "12 layers" in err
    _, _, err = run(capsys, "modules", "bert-base-uncased")
    assert "BertModel" in err
    _, _, err = run(capsys, "modules", "whisper")  # an encoder-decoder, not its decoder-only class
    assert "WhisperForCausalLM" not in err and "Whisper" in err


@pytest.mark.parametrize(("model_type", "leaf"), [("whisper", "q_proj"), ("vit", "projection"), ("granite", "q_proj"),
                                                  ("olmo2", "q_proj"), ("albert", "query")])
def test_modules_of_a_model_type_uses_that_types_default(capsys, model_type, leaf):
    """Model types the data holds used to be refused ("cannot tell which architecture"), and albert read as bert."""
    code, out, err = run(capsys, "modules", model_type)
    assert code == 0 and leaf in _counts(out), (err, out)
    assert f": {model_type} (" in err


def test_modules_refuses_a_name_guess(capsys):
    code, _, err = run(capsys, "modules", "acme/my-llama-finetune")
    assert code == 2 and "only looks like a llama model" in err


def test_pre_commit_hooks_file():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    yaml = pytest.importorskip("yaml")
    hooks = {hook["id"]: hook for hook in yaml.safe_load(text)}
    assert hooks["lora-lint"]["entry"] == "lora-lint --force-exclude"
    assert hooks["lora-lint-fix"]["entry"] == "lora-lint --fix --force-exclude"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["require_serial"] is True


def test_pre_commit_style_call_with_no_files_is_silent(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\nextend-exclude = ['gen']\n")
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen/x.py").write_text("from peft import LoraConfig\nLoraConfig(r=8\n")
    assert run(capsys, "--force-exclude", "gen/x.py") == (0, "", "")
    assert run(capsys, "--fix", "--force-exclude", "gen/x.py") == (0, "", "")


def test_sarif_with_every_real_rule_is_valid(capsys):
    code, out, _ = run(capsys, "--no-cache", "--output-format", "sarif", "--unsafe-fixes", str(EXAMPLES))
    log = json.loads(out)
    sarif_schema.validator().validate(log)
    assert code == 1 and log["runs"][0]["results"]
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["help"]["markdown"].startswith(f"# {rule['id']} ")


def test_numbers_beyond_float_range_are_not_an_internal_error(tmp_path, capsys):
    path = tmp_path / "huge.py"
    path.write_text("from peft import LoraConfig\n\nLoraConfig(r=(10**60)**6, lora_alpha=16)\n"
                    "LoraConfig(r=8, lora_alpha=16, rank_pattern={'q': 10**60 * 10**300}, alpha_pattern={'q': 2})\n"
                    "LoraConfig(r=1e308 * 10, lora_alpha=16)\nLoraConfig(r=8, lora_alpha=16, "
                    "rank_pattern={'q': 1e309}, alpha_pattern={'q': 2})\n", encoding="utf-8")
    for fix in ((), ("--fix", "--unsafe-fixes")):
        code, out, err = run(capsys, "--no-cache", "--target-peft-version", ">=0.7", *fix, str(path))
        # the ints beyond float range are not proven values; 1e308 * 10 and 1e309 are inf, no rank (LORA004)
        assert code == 1 and "internal error" not in err, (out, err)
        assert [line.split()[1] for line in out.splitlines()] == ["LORA004", "LORA004"], out
        assert out.count("r=inf") == 2, out
