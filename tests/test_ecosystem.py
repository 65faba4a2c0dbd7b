"""The ecosystem check's verdicts (ecosystem/run.py): what fails it and what it only reports."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("ecosystem_run", ROOT / "ecosystem" / "run.py")
eco = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eco)


def finding(code="LORA002", severity="error", line=3, path="a.py"):
    return {"package": "pkg", "path": path, "code": code, "line": line, "column": 5, "severity": severity,
            "message": "m"}


def reviewed(f, verdict, reason="checked against the model's config"):
    return {**f, "verdict": verdict, "reason": reason}


def test_an_error_reviewed_true_passes_and_one_marked_false_or_unreviewed_fails():
    true, false, new = finding(line=1), finding(line=2), finding(line=3)
    failures, diff = eco.compare([true, false, new], [reviewed(true, "true"), reviewed(false, "false")])
    assert len(failures) == 2
    assert any("marked false" in f for f in failures) and any("not reviewed" in f for f in failures)
    assert [d[:1] for d in diff] == ["+"]


def test_warnings_only_show_in_the_diff_and_vanished_findings_are_listed():
    warning, gone = finding(severity="warning"), finding(line=9)
    failures, diff = eco.compare([warning], [reviewed(gone, "true")])
    assert failures == []
    assert diff[0].startswith("+ pkg/a.py:3:5: LORA002 (warning") and diff[1].startswith("- pkg/a.py:9:5: LORA002")


def test_a_syntax_error_on_a_file_cpython_compiles_is_a_failure(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "bad.py").write_text("x = (\n")
    found = [finding("LORA000", path="ok.py"), finding("LORA000", path="bad.py")]
    [wrong] = eco.false_syntax_errors(found, {"pkg": tmp_path})
    assert "ok.py" in wrong


def test_update_keeps_verdicts_and_marks_new_findings_unreviewed():
    old, new = finding(line=1), finding(line=2)
    out = eco.update([new, old], [reviewed(old, "true")])
    assert [(o["line"], o["verdict"]) for o in out] == [(1, "true"), (2, "unreviewed")]


def test_the_committed_baseline_is_reviewed():
    """Every entry has a verdict and, once reviewed, a reason; no error-severity entry is false."""
    path = ROOT / "ecosystem" / "baseline.json"
    if not path.exists():
        pytest.skip("no baseline yet")
    baseline = json.loads(path.read_text())
    assert all(b["verdict"] in ("true", "false") and b["reason"] for b in baseline)
    assert not [b for b in baseline if b["severity"] == "error" and b["verdict"] == "false"]


def test_pins_name_every_package_with_a_hash():
    pins = eco.pins()
    assert {name for name, _ in pins} >= {"peft", "trl", "axolotl", "llamafactory", "ms-swift", "unsloth"}
    assert all("--hash=sha256:" in line for line in eco.REQUIREMENTS.read_text().splitlines()
               if line and not line.startswith("#"))
