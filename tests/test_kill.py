"""``--fix`` killed at random moments (issue 8, "Keep it fixed"): every file holds its old or its
new text, never a mix or a truncation; the next ``--fix`` fixes them all and leaves no temporary
file.

Half the kills fall anywhere in the run, half just after the first file is written (when a
temporary file can be left), with SIGKILL or SIGTERM, serial or pooled. CI size: 60 files and 4
kills; the issue's full size: ``LORA_KILL_FILES=2000 LORA_KILL_RUNS=25 pytest tests/test_kill.py``.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lint_rules import runner

FILES = int(os.environ.get("LORA_KILL_FILES", "60"))
RUNS = int(os.environ.get("LORA_KILL_RUNS", "4"))
OLD = "from peft import LoraConfig\n# file {i:06}\nconfig = LoraConfig(r=8, lora_alpha=16, nit_lora_weights='gaussian')\n"
NEW = OLD.replace("nit_lora", "init_lora")
CLI = "import sys; from lint_rules.cli import main; sys.exit(main(sys.argv[1:]))"


def _start(project: Path, jobs: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(runner.__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", CLI, "--fix", "-j", str(jobs), "src"], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _reap(proc: subprocess.Popen) -> None:
    """Wait for the run and end whatever it started (pool workers) in its own session."""
    proc.wait(timeout=300)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _first_write(src: Path, deadline: float) -> None:
    """Return as soon as a file of ``src`` changed or a temporary file appeared."""
    while time.monotonic() < deadline:
        with os.scandir(src) as entries:
            if any(e.name.endswith(".tmp") or e.stat().st_size == len(NEW.format(i=0)) for e in entries):
                return
        time.sleep(0.001)


def _fresh(src: Path) -> list[Path]:
    src.mkdir(exist_ok=True)
    for stale in src.iterdir():
        stale.unlink()
    paths = [src / f"f{i:04}.py" for i in range(FILES)]
    for i, path in enumerate(paths):
        path.write_text(OLD.format(i=i))
    return paths


@pytest.mark.slow
def test_fix_killed_at_random_moments_leaves_old_or_new_files_and_no_temp_file(tmp_path):
    rng = random.Random(8)
    src = tmp_path / "src"
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    _fresh(src)
    began = time.monotonic()
    _reap(_start(tmp_path, 1))
    duration = time.monotonic() - began  # a whole serial run, to spread the kills over
    assert all(p.read_text() == NEW.format(i=i) for i, p in enumerate(sorted(src.glob("*.py"))))
    outcomes = {"old": 0, "new": 0}
    for run in range(RUNS):
        paths = _fresh(src)
        jobs = 1 if run % 2 == 0 else 2
        sig = signal.SIGKILL if run % 3 != 2 else signal.SIGTERM
        proc = _start(tmp_path, jobs)
        if run % 2 == 0:
            time.sleep(rng.uniform(0, duration))
        else:
            _first_write(src, time.monotonic() + duration * 3)
            time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(sig)
        _reap(proc)
        for i, path in enumerate(paths):
            text = path.read_text()
            assert text in (OLD.format(i=i), NEW.format(i=i)), f"run {run}: {path.name} is neither old nor new"
            outcomes["old" if text == OLD.format(i=i) else "new"] += 1
        _reap(_start(tmp_path, 1))  # the next run finishes the job and cleans up
        assert [p.name for p in src.iterdir() if p.name.endswith(".tmp")] == []
        assert all(p.read_text() == NEW.format(i=i) for i, p in enumerate(paths))
    assert sum(outcomes.values()) == FILES * RUNS
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []
