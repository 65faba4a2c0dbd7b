"""The worker pool (issue 8 items 1, 13, 17): a dying worker costs its file only, workers never
outlive the run, and no more workers start than there are files to share."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lint_rules import config, pool, runner

ROOT = Path(__file__).resolve().parents[1]
CALL = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, nit_lora_weights='gaussian')\n"


def _tasks(tmp_path: Path, n: int) -> list:
    tasks = []
    for i in range(n):
        path = tmp_path / f"f{i:02}.py"
        path.write_text(CALL)
        tasks.append(runner.read_task(path, path.name, path.name))
    return tasks


def _settings(tmp_path: Path) -> config.Settings:
    return config.settings_for(tmp_path)


def _crash_on(name: str, real=runner._process):
    def process(task, fix, unsafe, linter=None):
        if task.filename == name:
            os._exit(3)
        return real(task, fix, unsafe, linter)
    return process


def test_a_dying_worker_is_reported_for_its_file_and_the_others_finish(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(runner, "cpu_count", lambda: 2)
    monkeypatch.setattr(runner, "_process", _crash_on("f05.py"))  # inherited by the forked workers
    result = runner.run(_tasks(tmp_path, 30), _settings(tmp_path), jobs=2)  # was BrokenProcessPool
    assert result.errors == ["f05.py: internal error: the process linting it was exited with status 3"]
    assert sorted({v.filename for v in result.violations}) == [f"f{i:02}.py" for i in range(30) if i != 5]


def test_workers_never_outnumber_files_or_cores(tmp_path: Path, monkeypatch) -> None:
    started: list[int] = []
    real = pool.run_pool

    def spy(func, items, jobs, **kwargs):
        started.append(jobs)
        return real(func, items, jobs, **kwargs)

    monkeypatch.setattr(pool, "run_pool", spy)
    monkeypatch.setattr(runner, "cpu_count", lambda: 64)
    runner.run(_tasks(tmp_path, 30), _settings(tmp_path), jobs=200)  # forked 200 workers before
    assert started == [30 // runner.FILES_PER_WORKER]
    monkeypatch.setattr(runner, "cpu_count", lambda: 1)
    runner.run(_tasks(tmp_path, 30), _settings(tmp_path), jobs=200)
    assert started == [2]  # one core: no pool at all


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="reads /proc; a pool needs two cores")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_the_parent_ends_the_workers(tmp_path: Path, sig: signal.Signals) -> None:
    for i in range(400):
        (tmp_path / f"f{i:03}.py").write_text(CALL)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-m", "lint_rules", "--no-cache", "-j", "2", "."], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
        workers = _children(parent.pid)
        time.sleep(0.05)
    assert len(workers) == 2, "the pool did not start"
    parent.send_signal(sig)
    assert parent.wait(timeout=30) == -sig
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]  # they were orphaned and lived on before


def _double(item: tuple) -> int:
    return item[0] * 2


def _meet(barrier: Any) -> None:
    barrier.wait(timeout=5)  # raises (and the worker dies) unless the other worker starts meanwhile


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers inherit the items")
def test_forked_workers_are_sent_indexes_not_items() -> None:
    """A file's text was pickled by the parent for every item; a lock cannot be pickled at all."""
    items = [(i, threading.Lock()) for i in range(30)]
    assert pool.run_pool(_double, items, 2, on_death=lambda item, why: why, chunksize=4) == [2 * i for i in range(30)]


def test_every_worker_starts_before_any_is_given_work() -> None:
    """The first chunk of large items filled the first worker's pipe while it was still starting
    (importing libcst): the parent waited, and the second worker started only after it."""
    barrier = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None).Barrier(2)
    items = [(i, "x" * 2**20) for i in range(4)]
    done = pool.run_pool(_double, items, 2, on_death=lambda item, why: why, initializer=_meet,
                         initargs=(barrier,), chunksize=2)
    assert done == [0, 2, 4, 6]
