"""Rule options of the wrong kind are a config error, never an internal error (issue 8, item 10).

``alpha-ratio = "two"`` used to pass validation and crash every file (``TypeError``); ``-1``,
``nan``, ``inf`` crashed the fix (``CSTValidationError``); ``0`` advised ``lora_alpha=0``.
"""
from __future__ import annotations

import pytest

from cli_run import lint

ALPHA = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=8)\n"
BAD_RATIOS = ['"two"', "-1", "0", "-0.0", "nan", "inf", "-inf", "[2]", "true", "{ a = 1 }", '"2"']


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(ALPHA)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("value", BAD_RATIOS)
@pytest.mark.parametrize("table", ["[tool.lora-lint]", "[tool.lora-lint.rules.LORA201]",
                                   "[tool.lora-lint.rules.alpha-ratio]"])
def test_a_ratio_that_is_not_a_positive_number_is_a_config_error(project, capsys, value, table):
    (project / "pyproject.toml").write_text(f"{table}\nalpha-ratio = {value}\n")
    code, out, err = lint(capsys, "a.py")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {project / 'pyproject.toml'}: LORA201 option 'alpha-ratio' "
                                f"must be a positive number, not {err.split(', not ')[-1].strip()}"]
    assert "internal error" not in err


@pytest.mark.parametrize("value", ['"two"', "0", "nan"])
def test_a_ratio_on_the_command_line_is_checked_too(project, capsys, value):
    code, out, err = lint(capsys, "--config", f"alpha-ratio = {value}", "a.py")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: --config alpha-ratio = {value}: LORA201 option 'alpha-ratio' must be a positive number")


@pytest.mark.parametrize("value", ['"yes"', "1", "0"])
def test_a_switch_takes_only_true_or_false(project, capsys, value):
    (project / "pyproject.toml").write_text(f"[tool.lora-lint.rules.LORA201]\ncheck-defaults = {value}\n")
    code, out, err = lint(capsys, "a.py")
    assert (code, out) == (2, "") and "must be true or false" in err


@pytest.mark.parametrize(("value", "advice"), [("2.5", "set lora_alpha=20"), ("0.5", "set lora_alpha=4")])
def test_a_positive_ratio_is_used(project, capsys, value, advice):
    (project / "pyproject.toml").write_text(f"[tool.lora-lint]\nalpha-ratio = {value}\n")
    code, out, err = lint(capsys, "a.py")
    assert code == 1 and "LORA201" in out and advice in out


@pytest.mark.parametrize("value", ["1e308", "2"])
def test_an_advised_alpha_too_large_for_a_float_is_no_finding(project, capsys, value):
    """``lora_alpha = ratio x r`` that overflows to infinity: nothing to advise, and no crash."""
    (project / "pyproject.toml").write_text(f"[tool.lora-lint]\nalpha-ratio = {value}\n")
    (project / "a.py").write_text("from peft import LoraConfig\nLoraConfig(r=1e308, lora_alpha=8)\n"
                                  "LoraConfig(r=8, lora_alpha=16, rank_pattern={'q': 1e308}, alpha_pattern={'q': 8})\n")
    for argv in (["a.py"], ["--fix", "--unsafe-fixes", "a.py"]):  # a float rank is LORA004's finding
        assert lint(capsys, "--select", "LORA201", *argv) == (0, "", "All checks passed!\n")
