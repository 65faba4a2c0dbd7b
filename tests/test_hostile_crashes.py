"""Input that used to crash lora-lint's process (issue 8 item 1): run in a subprocess, since the
failure before the fix was a segfault of the whole interpreter."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lint_rules.engine import lint_source
from lint_rules.parsing import bracket_depth, stack_bound

ROOT = Path(__file__).resolve().parents[1]
CALL = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, nit_lora_weights='gaussian')\n"


def _lint(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "lint_rules", "--no-cache", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


# The deep files import LoraConfig: a file that only says `import peft` is never parsed (no enabled
# rule can fire on it, tests/test_prefilter.py), so it cannot crash the parser either.
def test_2000_nested_brackets_are_lora000_with_pythons_message(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text("from peft import LoraConfig\nx = " + "(" * 2000 + "1" + ")" * 2000 + "\n")
    (tmp_path / "ok.py").write_text(CALL)
    run = _lint(tmp_path, "deep.py", "ok.py")
    assert run.returncode == 1, run.stderr  # was -11 (SIGSEGV) with no output at all
    assert "deep.py:2:205: LORA000 SyntaxError: too many nested parentheses" in run.stdout
    assert "ok.py:2:" in run.stdout and "LORA003" in run.stdout  # the run goes on


@pytest.mark.parametrize("text", [
    "x = " + "[" * 10_000 + "1" + "]" * 10_000,
    "x = " + "{1: " * 3000 + "1" + "}" * 3000,
    "x = f'{" + "(" * 3000 + "1" + ")" * 3000 + "}'",
    "x = " + "(lambda: " * 3000 + "1" + ")" * 3000,
    "x = " + "lambda a=" * 2000 + "1" + ": 1" * 2000,  # brackets-free: Python's parser gives up
], ids=["lists", "dicts", "fstring", "lambdas-in-parens", "lambda-defaults"])
def test_deep_structures_python_refuses_are_lora000(tmp_path: Path, text: str) -> None:
    (tmp_path / "deep.py").write_text("from peft import LoraConfig\n" + text + "\n")
    run = _lint(tmp_path, "deep.py")
    assert run.returncode == 1, run.stderr
    assert "LORA000" in run.stdout


def test_lora_check_survives_a_deep_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    (tmp_path / "deep.py").write_text("from peft import LoraConfig\nx = " + "(" * 2000 + "1" + ")" * 2000 + "\n")
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "--lora-check", "-q", "-p", "no:cacheprovider", "."],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr  # was -11: the whole session segfaulted
    assert "too many nested parentheses" in run.stdout
    assert "1 failed, 1 passed" in run.stdout


def test_nesting_python_accepts_is_not_lora000() -> None:
    source = CALL + "x = " + "(" * 150 + "1" + ")" * 150 + "\n"
    assert [v.code for v in lint_source(source)] == ["LORA003"]


def test_brackets_in_strings_cannot_hide_nesting_from_the_stack_bound() -> None:
    hidden = "x = " + '(")" + ' * 2000 + "1" + ")" * 2000
    assert bracket_depth(hidden) < 5  # the raw count is fooled...
    assert stack_bound(hidden) > 2000 * 8 * 1024  # ...the stack bound is not (libcst needs 5-8 KB a level)


GPT2 = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n")


def test_a_catastrophic_target_regex_is_not_evaluated(tmp_path: Path) -> None:
    """`(.*.*)*\\.zzz` backtracks exponentially on gpt2's names (killed after 60 s before): it is
    left unevaluated, so no finding claims what it matches."""
    (tmp_path / "train.py").write_text(GPT2 + "get_peft_model(model, LoraConfig(target_modules=r'(.*.*)*\\.zzz'))\n")
    done = subprocess.run([sys.executable, "-m", "lint_rules", "check", "--no-cache", "--isolated", "train.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("keyword", ["exclude_modules='(((('", "modules_to_save='lm_head(x)'",
                                     "target_modules='(('"])
def test_a_pattern_that_does_not_compile_is_no_internal_error(keyword: str) -> None:
    source = GPT2 + f"get_peft_model(model, LoraConfig(target_modules=['c_attn'], {keyword}))\n"
    if keyword.startswith("target_modules"):
        source = GPT2 + f"get_peft_model(model, LoraConfig({keyword}))\n"
    expected = ["LORA004"] if keyword.startswith("target_modules") else []  # peft's re.fullmatch raises on it
    assert [v.code for v in lint_source(source, filename="train.py")] == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    (r".*\.(q_proj|v_proj)", True), (r".*decoder.*(SelfAttention|EncDecAttention).*(q|v)$", True),
    (r"^(?!.*vision).*(q_proj|v_proj)", True), (r"model\.layers\.\d+\.self_attn\.(q|k|v)_proj", True),
    ("q_proj", True), (r"(a+)+$", False), (r"(.*.*)*\.zzz", False), (r"(a|a)*b", False),
    (r"(\w+)\1", False), (r"((a*)b)*", False), (".*" * 7 + "x", False),
])
def test_bounded_regexes(pattern: str, expected: bool) -> None:
    from lint_rules.knowledge.matching import bounded

    assert bounded(pattern) is expected
