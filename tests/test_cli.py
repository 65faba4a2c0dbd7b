"""``lora-lint`` run in-process through ``main(argv)``, with the engine's small test rules."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine_fakes import fake_rules  # noqa: F401  (fixture)
import sarif_schema
from lint_rules import runner
from cli_run import lint
from lint_rules.cli import main

pytestmark = pytest.mark.usefixtures("fake_rules")

BAD = """from peft import LoraConfig

config = LoraConfig(
    r=0,
    bias="all",
)
"""
WARN_ONLY = 'from peft import LoraConfig\n\nconfig = LoraConfig(r=8, bias="all")\n'
CLEAN = "from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n"
BROKEN = "from peft import LoraConfig\nconfig = LoraConfig(r=0\n"


def stdin(text: str) -> io.TextIOWrapper:
    """A standard input that holds ``text`` as UTF-8 bytes."""
    return io.TextIOWrapper(io.BytesIO(text.encode()))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- exit codes --------------------------------------------------------------------------

def test_exit_0_when_clean(project, capsys):
    write(project / "ok.py", CLEAN)
    code, out, err = lint(capsys, ".")
    assert (code, out) == (0, "")
    assert "All checks passed" in err


def test_exit_1_with_findings_and_concise_lines(project, capsys):
    write(project / "pkg/bad.py", BAD)
    code, out, err = lint(capsys, ".")
    assert code == 1
    assert out.splitlines() == [
        "pkg/bad.py:4:7: LORA990 [*] r must be positive",
        'pkg/bad.py:5:5: LORA991 bias="all" trains every bias',
    ]
    assert "Found 2 problems (1 error, 1 warning)" in err
    assert "1 fixable with --fix" in err and "1 more fixable with --unsafe-fixes" in err


def test_unsafe_fixes_marks_unsafe_fixes_too(project, capsys):
    write(project / "bad.py", BAD)
    out = lint(capsys, "--unsafe-fixes", "bad.py")[1]
    assert "LORA991 [*]" in out


@pytest.mark.parametrize("argv, expected", [
    ([], 1),
    (["--fail-on", "error"], 0),
    (["--config", "fail-on = 'error'"], 0),
    (["--config", "severity = {LORA991 = 'error'}", "--fail-on", "error"], 1),
    (["--exit-zero"], 0),
])
def test_fail_on_and_exit_zero(project, capsys, argv, expected):
    write(project / "warn.py", WARN_ONLY)
    assert lint(capsys, *argv, "warn.py")[0] == expected


def test_info_findings_do_not_fail_by_default(project, capsys):
    write(project / "ok.py", CLEAN)
    code, out, _ = lint(capsys, "--select", "LORA992", "ok.py")
    assert code == 0 and "LORA992" in out


@pytest.mark.parametrize("pyproject, words", [
    ("[tool.lora-lint]\nselct = ['LORA990']\n", ["unknown key 'selct'", "did you mean 'select'"]),
    ("[tool.lora-lint]\nselect = ['LORA99O']\n", ["'LORA99O'"]),
    ("[tool.lora-lint.severity]\nLORA990 = 'fatal'\n", ["severity.LORA990"]),
    ("[tool.lora-lint]\ntarget-peft-version = '>=99'\n", ["no known peft release", ">=99"]),
    ("[tool.lora-lint\n", ["cannot read"]),
])
def test_config_errors_exit_2_and_name_the_problem(project, capsys, pyproject, words):
    write(project / "pyproject.toml", pyproject)
    write(project / "bad.py", BAD)
    code, out, err = lint(capsys, ".")
    assert code == 2 and out == ""
    for word in words:
        assert word in err


@pytest.mark.parametrize("argv", [["--select", "NOPE"], ["--output-format", "xml"], ["missing.py"], ["--jobs", "0"]])
def test_usage_errors_exit_2(project, capsys, argv):
    write(project / "bad.py", BAD)
    assert lint(capsys, *argv)[0] == 2


def test_lora_lint_toml_wins_over_pyproject_in_the_same_folder(project, capsys):
    write(project / "pyproject.toml", "[tool.lora-lint]\nselect = ['LORA990']\n")
    write(project / "lora-lint.toml", "select = ['LORA991']\n")
    write(project / "bad.py", BAD)
    assert "LORA991" in lint(capsys, "bad.py")[1] and "LORA990" not in lint(capsys, "bad.py")[1]


def test_nearest_config_is_used_and_isolated_ignores_it(project, capsys):
    write(project / "sub/pyproject.toml", "[tool.lora-lint]\nignore = ['LORA990']\n")
    write(project / "sub/bad.py", BAD)
    assert "LORA990" not in lint(capsys, "sub")[1]
    assert "LORA990" in lint(capsys, "--isolated", "sub")[1]


def test_per_file_ignores(project, capsys):
    write(project / "pyproject.toml", "[tool.lora-lint.per-file-ignores]\n'tests/*' = ['LORA990']\n")
    write(project / "tests/t.py", BAD)
    write(project / "src/s.py", BAD)
    out = lint(capsys, ".")[1]
    assert "src/s.py:4:7: LORA990" in out and "tests/t.py:4:7: LORA990" not in out


# --- output formats ----------------------------------------------------------------------

def test_full_output_has_snippet_and_caret(project, capsys):
    write(project / "bad.py", BAD)
    out = lint(capsys, "--output-format", "full", "--select", "LORA990", "bad.py")[1]
    assert "bad.py:4:7: LORA990 [*] r must be positive" in out
    assert "4 |     r=0," in out
    assert "  |       ^" in out.replace("   |", "  |")
    assert "help: Set r=8" in out


def test_json_output(project, capsys):
    write(project / "bad.py", BAD)
    data = json.loads(lint(capsys, "--output-format", "json", "bad.py")[1])
    assert [d["code"] for d in data] == ["LORA990", "LORA991"]
    first = data[0]
    assert set(first) == {"code", "name", "severity", "message", "filename", "location", "end_location", "fix", "url"}
    assert first["location"] == {"row": 4, "column": 7} and first["end_location"] == {"row": 4, "column": 8}
    assert first["fix"] == {"applicability": "safe", "message": "Set r=8", "edits": [
        {"content": "8", "location": {"row": 4, "column": 7}, "end_location": {"row": 4, "column": 8}}]}
    assert data[1]["fix"]["applicability"] == "unsafe"
    assert first["url"].endswith("LORA990.md")


def test_github_output(project, capsys):
    write(project / "bad.py", BAD)
    out = lint(capsys, "--output-format", "github", "bad.py")[1].splitlines()
    assert out[0] == "::error title=lora-lint (LORA990),file=bad.py,line=4,col=7,endLine=4,endColumn=8::LORA990 r must be positive"
    assert out[1].startswith("::warning title=lora-lint (LORA991),file=bad.py,line=5,col=5,")


def test_sarif_output_is_valid_sarif_2_1_0(project, capsys):
    write(project / "src/bad.py", BAD)
    log = json.loads(lint(capsys, "--output-format", "sarif", ".")[1])
    sarif_schema.validator().validate(log)
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {"LORA000", "LORA990", "LORA991"} <= set(rules)
    assert rules["LORA990"]["help"]["markdown"].startswith("# LORA990 test-rank-zero")
    first = run["results"][0]
    assert first["ruleId"] == "LORA990" and first["level"] == "error"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "LORA990"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/bad.py"
    assert location["region"] == {"startLine": 4, "startColumn": 7, "endLine": 4, "endColumn": 8}


def test_statistics(project, capsys):
    write(project / "a.py", BAD)
    write(project / "b.py", BAD)
    out = lint(capsys, "--statistics", ".")[1]
    assert out.splitlines() == ["2\tLORA990\t[*] test-rank-zero", "2\tLORA991\ttest-bias-all"]


def test_output_file_and_quiet(project, capsys):
    write(project / "bad.py", BAD)
    code, out, err = lint(capsys, "-q", "-o", "report.txt", "bad.py")
    assert (code, out, err) == (1, "", "")
    assert "LORA990" in (project / "report.txt").read_text()


# --- stdin -------------------------------------------------------------------------------

def test_stdin(project, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", stdin(BAD))
    code, out, _ = lint(capsys, "-", "--stdin-filename", "nb/train.py")
    assert code == 1 and out.startswith("nb/train.py:4:7: LORA990")
    monkeypatch.setattr(sys, "stdin", stdin(BAD))
    assert lint(capsys, "--stdin-filename", "x.py")[1] == out.replace("nb/train.py", "x.py")  # '-' implied


def test_stdin_fix_prints_fixed_source(project, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", stdin(BAD))
    code, out, err = lint(capsys, "--fix", "-")
    assert "r=8," in out and "LORA991" in err and code == 1


# --- fixes ---------------------------------------------------------------------------------

def test_fix_writes_atomically_keeps_mode_and_is_idempotent(project, capsys):
    path = write(project / "bad.py", BAD.replace("r=0,", "r=0,  # rank"))
    path.chmod(0o751)
    code, out, err = lint(capsys, "--fix", "--show-fixes", "bad.py")
    assert code == 1  # the warning without a safe fix remains
    assert "r=8,  # rank" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert "Fixed 1 problem" in out and "1 x LORA990 (test-rank-zero)" in out
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []
    before = path.read_text()
    lint(capsys, "--fix", "bad.py")
    assert path.read_text() == before


def test_fix_unsafe_and_exit_non_zero_on_fix(project, capsys):
    path = write(project / "bad.py", BAD)
    assert lint(capsys, "--fix", "--unsafe-fixes", "bad.py")[0] == 0
    assert "bias" not in path.read_text()
    write(project / "bad.py", BAD.replace('    bias="all",\n', ""))
    assert lint(capsys, "--fix", "--exit-non-zero-on-fix", "bad.py")[0] == 1
    assert lint(capsys, "--fix", "--exit-non-zero-on-fix", "bad.py")[0] == 0


def test_diff_prints_and_writes_nothing(project, capsys):
    path = write(project / "bad.py", BAD)
    code, out, err = lint(capsys, "--diff", "bad.py")
    assert code == 1 and path.read_text() == BAD
    assert "--- a/bad.py" in out and "-    r=0," in out and "+    r=8," in out
    write(project / "bad.py", CLEAN)
    assert lint(capsys, "--diff", "bad.py")[:2] == (0, "")
    # one diff line per line of the file, even when a string holds U+2028
    write(project / "sep.py", BAD.replace("r=0,", 'r=0, name="a\u2028b",'))
    out = lint(capsys, "--diff", "sep.py")[1]
    assert '\n-    r=0, name="a\u2028b",\n+    r=8, name="a\u2028b",\n' in out


def test_a_fix_that_would_break_the_file_is_refused(project, capsys):
    path = write(project / "bad.py", BAD)
    code, _, err = lint(capsys, "--fix", "--select", "LORA993", "bad.py")
    assert code == 2 and "would not parse" in err and path.read_text() == BAD


# --- files -------------------------------------------------------------------------------

def test_syntax_error_is_reported_and_the_run_goes_on(project, capsys):
    write(project / "a_broken.py", BROKEN)
    write(project / "b_bad.py", BAD)
    code, out, _ = lint(capsys, ".")
    assert code == 1
    assert out.splitlines()[0] == "a_broken.py:2:20: LORA000 SyntaxError: '(' was never closed"
    assert "b_bad.py:4:7: LORA990" in out


def test_gitignore_and_excludes(project, capsys):
    write(project / ".gitignore", "generated/\n*_tmp.py\n!keep_tmp.py\n")
    write(project / "pyproject.toml", "[tool.lora-lint]\nextend-exclude = ['legacy', 'scripts/old_*.py']\n")
    for name in ["generated/g.py", "x_tmp.py", "keep_tmp.py", "legacy/l.py", "scripts/old_a.py",
                 "scripts/new_a.py", ".venv/lib/v.py", "sub/generated/z.py"]:
        write(project / name, BAD)
    out = lint(capsys, "--select", "LORA990", ".")[1]
    assert sorted(line.split(":")[0] for line in out.splitlines()) == ["keep_tmp.py", "scripts/new_a.py"]
    # a file named explicitly is linted unless --force-exclude
    assert "legacy/l.py" in lint(capsys, "legacy/l.py")[1]
    assert lint(capsys, "--force-exclude", "legacy/l.py", "x_tmp.py") == (0, "", "")
    # ... also when it lies in a gitignored folder
    assert "generated/g.py" in lint(capsys, "generated/g.py")[1]
    assert lint(capsys, "--force-exclude", "generated/g.py", "sub/generated/z.py") == (0, "", "")


def test_a_missing_path_is_an_error(project, capsys):
    write(project / "bad.py", BAD)
    assert lint(capsys, "bad.py", "missing.py") == (2, "", "error: missing.py: no such file or folder\n")


def test_no_files_is_silent_success(project, capsys):
    write(project / "legacy/l.py", BAD)
    write(project / "pyproject.toml", "[tool.lora-lint]\nextend-exclude = ['legacy']\n")
    assert lint(capsys, ".") == (0, "", "")
    assert lint(capsys, "--force-exclude", "legacy/l.py") == (0, "", "")


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tune\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["%pip install peft\n", "!nvidia-smi\n", "from peft import LoraConfig"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["%%time\n", "x = 1\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["files = !ls\n", "config = LoraConfig(\n", "    r=0,\n", ")\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def test_notebook_positions_are_cell_relative_and_magics_are_skipped(project, capsys):
    write(project / "train.ipynb", json.dumps(NOTEBOOK))
    code, out, _ = lint(capsys, ".")
    assert (code, out) == (1, "train.ipynb:cell 4:3:7: LORA990 [*] r must be positive\n")
    data = json.loads(lint(capsys, "--output-format", "json", ".")[1])
    assert data[0]["cell"] == 4 and data[0]["location"] == {"row": 3, "column": 7}


def test_notebook_fix_keeps_magics_and_other_cells(project, capsys):
    path = write(project / "train.ipynb", json.dumps(NOTEBOOK))
    assert lint(capsys, "--fix", "train.ipynb")[0] == 0
    fixed = json.loads(path.read_text())
    assert fixed["cells"][3]["source"] == ["files = !ls\n", "config = LoraConfig(\n", "    r=8,\n", ")\n"]
    for i in (0, 1, 2):
        assert fixed["cells"][i]["source"] == NOTEBOOK["cells"][i]["source"]
    assert lint(capsys, "train.ipynb")[0] == 0


def test_notebook_lines_end_where_python_ends_them(project, capsys):
    # str.splitlines() also breaks at U+2028 (here inside a string) and at form feeds
    cell = ["from peft import LoraConfig\n", 'sep = "a\u2028b"\n', "\x0c\n", "config = LoraConfig(r=0)\n"]
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": cell}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = write(project / "nb.ipynb", json.dumps(notebook))
    code, out, _ = lint(capsys, "--output-format", "full", ".")
    assert code == 1 and out.startswith("nb.ipynb:cell 1:4:23: LORA990 [*] r must be positive\n")
    assert "  4 | config = LoraConfig(r=0)\n" in out
    assert lint(capsys, "--fix", ".")[0] == 0
    assert "".join(json.loads(path.read_text())["cells"][0]["source"]) == "".join(cell).replace("r=0", "r=8")


def test_invalid_notebook_json_is_lora000(project, capsys):
    write(project / "broken.ipynb", "{not json")
    code, out, _ = lint(capsys, ".")
    assert code == 1 and out.startswith("broken.ipynb:1:1: LORA000")


@pytest.mark.parametrize("text", ["", "\n", " \r\n\t"])
@pytest.mark.parametrize("fix", [False, True])
def test_an_empty_notebook_file_has_no_cells_and_no_finding(project, capsys, text, fix):
    # QwenLM/Qwen-VL commits a 0-byte assets/mm_tutorial/TUTORIAL.ipynb; editors open such a file as
    # an empty notebook, and like an empty .py file it holds nothing a rule could look at
    write(project / "placeholder.ipynb", text)
    write(project / "train.py", "x = 1\n")
    code, out, err = lint(capsys, *(["--fix"] if fix else []), ".")
    assert code == 0 and "LORA000" not in out, (out, err)
    assert (project / "placeholder.ipynb").read_bytes() == text.encode()


@pytest.mark.parametrize("text", ['{"cells": 5}', '{"cells": [1]}', '[]',
                                  '{"cells": [{"cell_type": "code", "source": ["import peft", 1]}]}'])
@pytest.mark.parametrize("fix", [False, True])
def test_notebook_json_without_a_list_of_cells_is_lora000(project, capsys, text, fix):
    write(project / "odd.ipynb", text)
    code, out, err = lint(capsys, *(["--fix"] if fix else []), ".")
    assert code == 1 and out.startswith("odd.ipynb:1:1: LORA000 not a valid notebook"), err


# --- cache and parallelism ------------------------------------------------------------------

def test_cache_hit_and_miss(project, capsys, monkeypatch):
    calls = []
    real = runner._process
    monkeypatch.setattr(runner, "_process", lambda task, *a, **k: calls.append(task.filename) or real(task, *a, **k))
    write(project / "a.py", BAD)
    write(project / "b.py", CLEAN)
    first = lint(capsys, "--cache", "-j", "1", ".")
    assert sorted(calls) == ["a.py", "b.py"]
    assert (project / ".lora_lint_cache/.gitignore").read_text().splitlines()[-1] == "*"
    calls.clear()
    assert lint(capsys, "--cache", "-j", "1", ".") == first and calls == []
    write(project / "b.py", BAD)
    lint(capsys, "--cache", "-j", "1", ".")
    assert calls == ["b.py"]
    calls.clear()
    lint(capsys, "--cache", "-j", "1", "--select", "LORA990", ".")  # other settings, other cache
    assert sorted(calls) == ["a.py", "b.py"]


def test_a_cache_that_cannot_be_saved_is_skipped_and_leaves_no_temporary_file(project, capsys, monkeypatch):
    write(project / "a.py", BAD)

    def disk_full(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", disk_full)
    assert lint(capsys, "--cache", "-j", "1", ".")[:2] == lint(capsys, "-j", "1", ".")[:2]
    assert [p.name for p in (project / ".lora_lint_cache").rglob("*") if p.is_file()] == [".gitignore"]


def test_cache_is_not_reused_under_another_root(tmp_path, capsys, monkeypatch):
    # without a config file the root is where the run starts, and per-file-ignores match paths below it
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "sub/x.py", BAD)
    ignores = ["--config", 'per-file-ignores = {"sub/*" = ["LORA990"]}', "-j", "1"]
    assert "LORA990" not in lint(capsys, "--cache", *ignores, ".")[1]
    assert "LORA990" in lint(capsys, "--cache", *ignores, "sub")[1]  # relative to sub/ the glob does not match


def test_parallel_results_equal_serial(project, capsys):
    for i in range(runner.PARALLEL_MIN_FILES + 6):
        write(project / f"pkg/m{i:02}.py", BAD if i % 3 else CLEAN)
    write(project / "pkg/zz_broken.py", BROKEN)
    serial = lint(capsys, "--output-format", "json", "-j", "1", ".")
    parallel = lint(capsys, "--output-format", "json", "-j", "2", ".")
    assert serial == parallel and serial[0] == 1
    assert len(json.loads(serial[1])) == 2 * 20 + 1


# --- other commands ------------------------------------------------------------------------

def test_rules_and_rule(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "LORA990  test-rank-zero" in out and "off" in out
    assert main(["rule", "test-rank-zero"]) == 0
    assert capsys.readouterr().out.startswith("# LORA990 test-rank-zero")
    assert main(["rule", "LORA99"]) == 2
    assert "unknown rule" in capsys.readouterr().err
    assert main(["rule", "test-rank-zer"]) == 2
    assert capsys.readouterr().err == "error: unknown rule 'test-rank-zer' (did you mean 'test-rank-zero'?)\n"


def test_show_settings(project, capsys):
    write(project / "pyproject.toml", "[tool.lora-lint]\nextend-select = ['LORA992']\ntarget-peft-version = '>=0.11'\n")
    code, out, _ = lint(capsys, "--show-settings", "--ignore", "LORA991")
    assert code == 0
    assert "target peft: >=0.11" in out and "0.11.0, 0.12.0" in out
    assert "on  LORA992 test-every-call [info] - extend-select" in out
    assert "off LORA991 test-bias-all [warning] - ignored (command line)" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "lora-lint 0.1.0"


def test_console_script_runs(tmp_path):
    script = Path(sys.executable).with_name("lora-lint")
    if not script.exists():
        pytest.skip("lora-lint is not installed as a console script")
    write(tmp_path / "a.py", BROKEN)
    done = subprocess.run([str(script), "--no-cache", "a.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "error"})
    assert done.returncode == 1 and "a.py:2:20: LORA000" in done.stdout


def test_target_peft_version_option_wins_over_config(project, capsys):
    write(project / "pyproject.toml", "[tool.lora-lint]\ntarget-peft-version = '>=0.11'\n")
    out = lint(capsys, "--show-settings", "--target-peft-version", "==0.10.0")[1]
    assert "target peft: ==0.10.0 (from command line); releases: 0.10.0\n" in out
    assert lint(capsys, "--target-peft-version", "==9.9", ".")[0] == 2


def test_a_crashing_rule_is_an_internal_error_and_the_run_goes_on(project, capsys, monkeypatch):
    from lint_rules.rule import REGISTRY

    def crash(self, call, ctx):
        if "crash" in ctx.filename:
            raise RuntimeError("boom")
        yield from original(self, call, ctx)

    original = REGISTRY["LORA990"].check
    monkeypatch.setattr(REGISTRY["LORA990"], "check", crash)
    write(project / "a_crash.py", BAD)
    write(project / "b_bad.py", BAD)
    code, out, err = lint(capsys, "-j", "1", ".")
    assert code == 2
    assert "a_crash.py: internal error: RuntimeError: boom" in err
    assert "b_bad.py:4:7: LORA990" in out


def test_lint_paths_api_matches_the_cli(project, capsys):
    import lint_rules

    write(project / "pkg/bad.py", BAD)
    write(project / "pyproject.toml", "[tool.lora-lint]\nignore = ['LORA991']\n")
    found = lint_rules.lint_paths([project / "pkg"])
    assert [(v.code, v.location.row) for v in found] == [("LORA990", 4)]
    assert [v.code for v in lint_rules.lint_paths(["pkg"], select=["LORA991"])] == ["LORA991"]
    # a long-lived process sees a .gitignore as it is now
    write(project / ".gitignore", "other/\n")
    assert len(lint_rules.lint_paths(["."])) == 1
    write(project / ".gitignore", "other/\npkg/\n")
    assert lint_rules.lint_paths(["."]) == []


def test_notebook_syntax_error_is_reported_in_its_cell(project, capsys):
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "from peft import LoraConfig\n"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = 1\nconfig = LoraConfig(r=8\n"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    write(project / "nb.ipynb", json.dumps(notebook))
    code, out, _ = lint(capsys, ".")
    assert code == 1 and out.startswith("nb.ipynb:cell 2:2:20: LORA000")


def test_coding_cookie_and_bom_are_kept_and_undecodable_text_is_lora000(project, capsys):
    latin = project / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\n" + BAD.replace("r=0,", "r=0,  # caf\xe9").encode("latin-1"))
    bom = project / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + BAD.encode())
    broken = project / "binary.py"
    broken.write_bytes(b"from peft import LoraConfig\nx = '\xff\xfe'\n")
    code, out, _ = lint(capsys, "--fix", ".")
    assert code == 1
    assert latin.read_bytes().decode("latin-1").count("r=8,  # caf\xe9") == 1
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf") and b"r=8," in bom.read_bytes()
    assert "binary.py:1:1: LORA000 cannot decode the file" in out
    assert broken.read_bytes() == b"from peft import LoraConfig\nx = '\xff\xfe'\n"


def test_stdin_filename_excluded_with_force_exclude_is_passed_through(project, capsys, monkeypatch):
    write(project / "pyproject.toml", "[tool.lora-lint]\nextend-exclude = ['gen']\n")
    monkeypatch.setattr(sys, "stdin", stdin(BAD))
    assert lint(capsys, "--fix", "--force-exclude", "--stdin-filename", "gen/x.py", "-") == (0, BAD, "")


def test_add_noqa_suppresses_every_finding_and_keeps_comments(project, capsys):
    source = BAD.replace("r=0,", "r=0,  # noqa: E501").replace('bias="all",', 'bias="all",  # keep')
    path = write(project / "bad.py", source)
    code, _, err = lint(capsys, "--add-noqa", "bad.py")
    assert code == 0 and "Added 2 noqa directives." in err
    text = path.read_text()
    assert "r=0,  # noqa: E501, LORA990\n" in text and 'bias="all",  # keep  # noqa: LORA991\n' in text
    assert lint(capsys, "bad.py")[:2] == (0, "")
    assert lint(capsys, "--add-noqa", "bad.py")[2].startswith("Added 0 noqa directives.")


def test_a_file_that_cannot_be_written_is_an_error_not_a_crash(project, capsys, monkeypatch):
    def read_only(path, *args, **kwargs):
        raise PermissionError(f"{path.name} is read-only")

    monkeypatch.setattr("lint_rules.runner.write_atomic", read_only)
    write(project / "bad.py", BAD)
    write(project / "other.py", BAD)
    code, _, err = lint(capsys, "--add-noqa", ".")
    assert code == 2 and "error: bad.py: cannot write: bad.py is read-only" in err
    assert "error: other.py: cannot write" in err and "Added 0 noqa directives." in err
    code, _, err = lint(capsys, "--fix", "-j", "1", ".")
    assert code == 2 and "error: bad.py: cannot write the fix: bad.py is read-only" in err


def test_an_output_file_that_cannot_be_written_is_exit_2(project, capsys):
    write(project / "bad.py", BAD)
    code, _, err = lint(capsys, "-o", str(project / "missing" / "report.txt"), "bad.py")
    assert code == 2 and err.startswith("error: cannot write the report: ") and "report.txt" in err


def test_add_noqa_never_writes_inside_a_string():
    from lint_rules.add_noqa import add_noqa
    from lint_rules.violation import Location, Violation

    source = 'x = f(a=1,\n      b="""one\ntwo""",\n)\n'
    violation = Violation("LORA990", "test-rank-zero", "error", "m", "a.py", Location(2, 9), Location(3, 7))
    assert add_noqa(source, [violation]) == ('x = f(a=1,\n      b="""one\ntwo""",  # noqa: LORA990\n)\n', 1)
    # a "# noqa" inside a string on the line is text, not the line's comment
    source = 'x = f(r=0, name="# noqa: X")  # noqa: E501\ny = f(r=0, name="# noqa: X")\n'
    first, second = (Violation("LORA990", "test-rank-zero", "error", "m", "a.py", Location(row, 9), Location(row, 10))
                     for row in (1, 2))
    assert add_noqa(source, [first, second]) == (
        'x = f(r=0, name="# noqa: X")  # noqa: E501, LORA990\ny = f(r=0, name="# noqa: X")  # noqa: LORA990\n', 2)
    # rows as Python counts them: a form feed does not end a line
    source = "import peft\n\x0c\nx = f(r=0)\n"
    violation = Violation("LORA990", "test-rank-zero", "error", "m", "a.py", Location(3, 7), Location(3, 8))
    assert add_noqa(source, [violation]) == ("import peft\n\x0c\nx = f(r=0)  # noqa: LORA990\n", 1)
