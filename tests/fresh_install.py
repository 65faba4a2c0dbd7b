"""Installing pytest-lora as a user does: from a copy of the source, into a fresh venv.

Nothing of the test environment leaks in: no PYTHONPATH, no site packages, no checkout on the
path (commands run in their own folder). pip may reach the package index for the dependencies.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the sdist is made from these, the wheel from the sdist.
SOURCE = ("pyproject.toml", "README.md", "LICENSE", "lint_rules", "pytest_lora")
TIMEOUT = 600


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a user's commands: this session's Python paths removed."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True,
        ) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def copy_source(dest: Path) -> Path:
    """The files a build reads, copied (builds write build/ and *.egg-info next to them)."""
    dest.mkdir(parents=True)
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def fresh_venv(path: Path) -> Path:
    """A new venv (no system site packages); returns its bin folder."""
    run([sys.executable, "-m", "venv", str(path)], cwd=path.parent)
    return path / "bin"
