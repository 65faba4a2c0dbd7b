"""action.yml, the composite GitHub Action: its `run:` steps run here as the runner runs them
(bash, the inputs' values in their `env:`, GITHUB_ACTION_PATH, RUNNER_TEMP, GITHUB_PATH), on a
project with a LoRA mistake; the `uses:` steps (setup-python, upload-sarif) are GitHub's own and
are checked for what they are given. The install step is real: a fresh venv, no torch.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sarif_schema
from fresh_install import ROOT, clean_env, copy_source, run

ACTION = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
STEPS = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SEED = (ROOT / "examples" / "seed_gpt2.py").read_text("utf-8")


def _step(name: str) -> dict:
    (step,) = [s for s in STEPS if s.get("name") == name]
    return step


def _defaults() -> dict[str, str]:
    return {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}


def _evaluate(text: str, inputs: dict[str, str], python: str) -> str:
    """The expressions action.yml uses: inputs.X and the setup-python step's python-path."""
    def value(match: re.Match) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr == "steps.python.outputs.python-path":
            return python
        raise AssertionError(f"unexpected expression in action.yml: {expr}")
    return EXPRESSION.sub(value, text)


def test_action_shape():
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"paths", "args", "upload-sarif", "sarif-file", "category", "python-version"}
    uses = [s["uses"] for s in STEPS if "uses" in s]
    assert uses == ["actions/setup-python@v6", "github/codeql-action/upload-sarif@v4"]
    upload = next(s for s in STEPS if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"] == {"sarif_file": "${{ inputs.sarif-file }}", "category": "${{ inputs.category }}"}
    assert upload["if"] == "inputs.upload-sarif == 'true'"
    for step in STEPS:
        if "run" in step:
            assert step["shell"] == "bash"
            # inputs reach the script through env only: a value is never pasted into shell code
            assert "${{" not in step["run"], step["name"]
    # the SARIF report is written before the upload, the verdict step comes last
    names = [s.get("name") or s["uses"] for s in STEPS]
    assert names.index("lora-lint (SARIF report)") < names.index("Upload SARIF to code scanning")
    assert names[-1] == "lora-lint (annotations)"


def _run_step(step: dict, inputs: dict[str, str], runner: dict[str, str], workspace: Path,
              python: str):
    env = clean_env(**runner)
    env.update({key: _evaluate(str(value), inputs, python) for key, value in step.get("env", {}).items()})
    path_file = Path(runner["GITHUB_PATH"])
    added = [line for line in path_file.read_text().splitlines() if line] if path_file.exists() else []
    env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
    return run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=workspace, env=env, check=False)


@pytest.fixture(scope="module")
def action_env(tmp_path_factory):
    """The runner's variables, and the install step run once (a fresh venv from the action's own
    checkout: this source, copied)."""
    root = tmp_path_factory.mktemp("runner")
    action_path = copy_source(root / "action")
    shutil.copy2(ROOT / "action.yml", action_path / "action.yml")
    runner = {"RUNNER_TEMP": str(root / "temp"), "GITHUB_ACTION_PATH": str(action_path),
              "GITHUB_PATH": str(root / "github_path"), "GITHUB_WORKSPACE": str(root / "workspace"),
              "XDG_CACHE_HOME": str(root / "cache")}
    (root / "temp").mkdir()
    (root / "workspace").mkdir()
    done = _run_step(_step("Install lora-lint"), _defaults(), runner, root / "workspace", sys.executable)
    assert done.returncode == 0, done.stdout + done.stderr
    return runner, sys.executable


@pytest.fixture
def workspace(action_env, tmp_path):
    """A checked-out repository with a LoRA mistake in src/ and a clean script in tools/."""
    runner, python = action_env
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SEED, "utf-8")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "fit.py").write_text(
        "from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16)\n", "utf-8")
    return tmp_path, dict(runner, GITHUB_WORKSPACE=str(tmp_path)), python


def test_install_puts_a_torch_free_lora_lint_on_the_path(action_env):
    runner, _ = action_env
    (bin_dir,) = Path(runner["GITHUB_PATH"]).read_text().split()
    assert Path(bin_dir, "lora-lint").exists()
    assert bin_dir.startswith(runner["RUNNER_TEMP"])
    listed = run([str(Path(bin_dir) / "python"), "-m", "pip", "list", "--format=json"], cwd=Path(bin_dir))
    names = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert "pytest-lora" in names and "libcst" in names
    assert not names & {"torch", "transformers", "peft"}


def test_sarif_step_writes_a_valid_report_and_never_fails_on_findings(workspace):
    folder, runner, python = workspace
    inputs = _defaults()
    done = _run_step(_step("lora-lint (SARIF report)"), inputs, runner, folder, python)
    assert done.returncode == 0, done.stderr  # the verdict is the annotations step's
    log = json.loads((folder / inputs["sarif-file"]).read_text("utf-8"))
    sarif_schema.validator().validate(log)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["LORA001"]
    location = results[0]["locations"][0]["physicalLocation"]
    # code scanning places a result by its path relative to the repository root
    assert location["artifactLocation"]["uri"] == "src/train.py"
    assert location["region"]["startLine"] == 13


def test_annotations_step_annotates_and_fails_the_job(workspace):
    folder, runner, python = workspace
    done = _run_step(_step("lora-lint (annotations)"), _defaults(), runner, folder, python)
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    assert line.startswith("::error title=lora-lint (LORA001),file=src/train.py,line=13,col=20,")
    assert "target_modules=['c_attn']" in line


def test_inputs_select_paths_and_options(workspace):
    folder, runner, python = workspace
    inputs = dict(_defaults(), paths="tools src", args="--select LORA0,LORA2 --extend-select LORA201",
                  **{"sarif-file": "reports/lora.sarif"})
    (folder / "reports").mkdir()
    sarif = _run_step(_step("lora-lint (SARIF report)"), inputs, runner, folder, python)
    assert sarif.returncode == 0, sarif.stderr
    assert (folder / "reports" / "lora.sarif").exists()
    done = _run_step(_step("lora-lint (annotations)"), inputs, runner, folder, python)
    assert done.returncode == 1, done.stderr
    assert "file=src/train.py" in done.stdout
    clean = _run_step(_step("lora-lint (annotations)"), dict(inputs, paths="tools"), runner, folder, python)
    assert (clean.returncode, clean.stdout) == (0, "")


def test_a_config_error_fails_the_sarif_step(workspace):
    folder, runner, python = workspace
    inputs = dict(_defaults(), args="--select LORA999")
    done = _run_step(_step("lora-lint (SARIF report)"), inputs, runner, folder, python)
    assert done.returncode == 2 and "LORA999" in done.stderr


def test_the_vendored_schema_rejects_a_broken_log(workspace):
    folder, runner, python = workspace
    inputs = _defaults()
    _run_step(_step("lora-lint (SARIF report)"), inputs, runner, folder, python)
    log = json.loads((folder / inputs["sarif-file"]).read_text("utf-8"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    errors = list(sarif_schema.validator().iter_errors(log))
    assert errors and "fatal" in errors[0].message


def test_the_documented_workflow_uses_this_action():
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text("utf-8"), re.S)
    workflows = [yaml.safe_load(b) for b in blocks if "jobs:" in b]
    assert workflows
    workflow = workflows[0]
    assert workflow["permissions"]["security-events"] == "write"
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    ours = [s for s in steps if s.get("uses", "").startswith("pytest-lora/pytest-lora@")]
    assert len(ours) == 1 and set(ours[0].get("with", {})) <= set(ACTION["inputs"])
    assert re.fullmatch(r"[0-9a-f]{40}", _documented_ref()), "pin the action to a full commit"


def _documented_ref() -> str:
    text = (ROOT / "docs" / "ci.md").read_text("utf-8")
    (ref,) = set(re.findall(r"uses: pytest-lora/pytest-lora@(\S+)", text))
    return ref


def test_the_documented_commit_holds_this_action():
    """The pinned commit is in this history (so on main once merged) and has action.yml with the
    inputs the workflow passes."""
    ref = _documented_ref()
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("no git history in this checkout (an sdist)")
    if subprocess.run([git, "cat-file", "-e", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip(f"this checkout's history does not reach {ref} (a shallow clone)")
    assert subprocess.run([git, "merge-base", "--is-ancestor", ref, "HEAD"], cwd=ROOT).returncode == 0
    pinned = yaml.safe_load(subprocess.run([git, "show", f"{ref}:action.yml"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout)
    assert pinned["runs"]["using"] == "composite"
    assert set(pinned["inputs"]) >= {"paths", "upload-sarif"}
