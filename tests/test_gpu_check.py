"""scripts/gpu-check: a distinct exit code without CUDA, and its report, driven through a fake probe."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu-check"


def _run(python: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, env={**os.environ, "PYTHON": python})


def test_is_executable():
    assert os.access(SCRIPT, os.X_OK)


def test_without_cuda_says_so_and_exits_3():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = _run(sys.executable)
    assert done.returncode == 3
    assert "no CUDA GPU on this machine" in done.stdout and "nothing was checked" in done.stdout
    # a CPU-only torch on a GPU machine looks the same to torch: say which one this is
    assert ("CPU-only torch build: set PYTHON" in done.stdout) == (torch.version.cuda is None)


def test_broken_interpreter_exits_2(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'No module named torch' >&2\nexit 1\n")
    broken.chmod(0o755)
    done = _run(str(broken))
    assert done.returncode == 2 and "torch is not importable" in done.stdout


def test_report_when_the_gpus_are_there_but_nothing_ran(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: run scripts/gpu-check itself")
    # the probe claims two GPUs; the suite then skips everything (torch sees none), which must not pass
    shim = tmp_path / "python"
    shim.write_text(f"#!/bin/sh\nif [ \"$1\" = -c ]; then printf '2.13.0 12.4 2\\nFake GPU\\nFake GPU\\n'; exit 0; fi\n"
                    f"exec {sys.executable} \"$@\"\n")
    shim.chmod(0o755)
    done = _run(str(shim))
    assert done.returncode == 1
    assert "2 CUDA device(s): Fake GPU, Fake GPU" in done.stdout
    assert "skipped  test_misplaced_adapter_fails_with_module_names  -- gpu: no CUDA device" in done.stdout
    assert "0 passed, 0 failed, 8 skipped" in done.stdout and "no GPU check passed" in done.stdout


def test_the_report_shows_what_each_check_recorded(tmp_path):
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("gpu_check", loader))
    loader.exec_module(module)
    junit = tmp_path / "gpu.xml"
    junit.write_text(
        '<testsuites><testsuite><testcase name="test_memory"><properties>'
        '<property name="memory" value="held 2,900.0 MiB vs estimated 2,890.5 MiB"/></properties></testcase>'
        '<testcase name="test_qlora"><skipped message="could not import \'bitsandbytes\'"/></testcase>'
        '</testsuite></testsuites>')
    assert module.results(junit) == [
        ("test_memory", "passed", "", ["memory: held 2,900.0 MiB vs estimated 2,890.5 MiB"]),
        ("test_qlora", "skipped", "could not import 'bitsandbytes'", []),
    ]
