"""What lora-lint promises about the code and machine it runs on (docs/guarantees.md): it never
runs the code it lints or the project's build files, and it opens no network connection."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lint_rules import runner

REPO = Path(runner.__file__).resolve().parents[1]
PAYLOAD = "open({marker!r}, 'w').write('ran')\n"
TYPO = 'from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'


def _hostile_tree(root: Path) -> Path:
    """A project whose every executable file, if run, leaves a PWNED_<name> file behind."""
    tree = root / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "backend").mkdir()
    files = {
        "setup.py": "", "conftest.py": "", "sitecustomize.py": "", "usercustomize.py": "", "noxfile.py": "",
        "__main__.py": "", "pkg/__init__.py": "", "difflib.py": "", "tomllib.py": "", "backend/build.py": "",
        "train.py": TYPO + "model = LoraConfig()\n",
    }
    for name, extra in files.items():
        marker = str(root / f"PWNED_{name.replace('/', '_')}")
        (tree / name).write_text(extra + PAYLOAD.format(marker=marker))
    (tree / "evil.pth").write_text(f"import os; open({str(root / 'PWNED_pth')!r}, 'w')\n")
    (tree / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "build"\nbackend-path = ["backend"]\n'
        '[project]\nname = "evil"\nversion = "0"\ndependencies = ["peft>=0.10"]\n[tool.lora-lint]\n')
    (tree / "setup.cfg").write_text("[metadata]\nname = evil\n")
    return tree


def _lora_lint(cwd: Path, *argv: str, prelude: str = "") -> subprocess.CompletedProcess:
    """``lora-lint ARGV`` in ``cwd`` as the installed script does it (the current folder is not
    on ``sys.path``), after ``prelude``."""
    code = (f"import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; {prelude}\n"
            "from lint_rules.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_never_runs_the_linted_code_or_the_project_files(tmp_path):
    tree = _hostile_tree(tmp_path)
    for argv in (["--no-cache", "."], ["--fix", "--unsafe-fixes", "."], ["--add-noqa", "."],
                 ["--show-settings"], ["-j", "2", "--no-cache", "."]):
        run = _lora_lint(tree, *argv)
        assert run.returncode in (0, 1), (argv, run.stderr)
    assert "init_lora_weights" in (tree / "train.py").read_text()  # it did lint and fix
    assert sorted(p.name for p in tmp_path.glob("PWNED*")) == []


AUDIT = """
import os
BANNED = ("socket.", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
def _hook(event, args):
    if event.startswith(BANNED):
        os.write(2, ("BANNED " + event + "\\n").encode()); os._exit(99)
sys.addaudithook(_hook)
"""


def test_opens_no_network_connection_and_starts_no_program(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    (tmp_path / "a.py").write_text(
        "from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('some-org/not-in-any-cache')\n"
        "model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj']))\n"
        "# lora-lint: model=another-org/unknown-model\n" + TYPO)
    for argv in (["--no-cache", "-j", "1", "."], ["--no-cache", "-j", "1", "--fix", "--unsafe-fixes", "."],
                 ["modules", "gpt2"], ["modules", "some-org/not-in-any-cache"]):
        run = _lora_lint(tmp_path, *argv, prelude=AUDIT)
        assert "BANNED" not in run.stderr and run.returncode in (0, 1, 2), (argv, run.stderr)
    run = _lora_lint(tmp_path, prelude=AUDIT + "import socket; socket.socket()")  # the hook works
    assert run.returncode == 99 and "BANNED socket." in run.stderr


def test_every_test_the_guarantees_page_names_exists():
    import fnmatch
    import re

    page = (REPO / "docs" / "guarantees.md").read_text()
    defined = set(re.findall(r"^def (test_\w+)", "\n".join(p.read_text() for p in (REPO / "tests").glob("test_*.py")),
                             re.MULTILINE))
    named = set(re.findall(r"\b(test_[\w*]+)", page)) - {p.stem for p in (REPO / "tests").glob("test_*.py")}
    assert len(named) > 20
    assert [n for n in sorted(named) if not fnmatch.filter(defined, n)] == []
    assert [f for f in re.findall(r"tests/[\w/]+\.py", page) if not (REPO / f).is_file()] == []
