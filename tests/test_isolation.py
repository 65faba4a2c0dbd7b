"""Test files that pass alone pass after one another, whichever tests run before them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import lint_rules  # noqa: F401  (stays in sys.modules across in-process runs, as in test_lint_check.py)
from dropped_modules import forget_dropped_submodules

ROOT = Path(__file__).resolve().parents[1]
PASSING = ('from peft import LoraConfig\n\n'
           'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")\n')


def run_in_order(*tests: str) -> subprocess.CompletedProcess:
    """The tests run in this order in one fresh pytest process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_trainer_yaml_tests_pass_after_an_in_process_lora_check():
    """An in-process ``pytester`` run that first imported PyYAML left a second copy of it behind,
    whose node classes its C loader does not build: every trainer YAML test run next in the
    same process found nothing (30 failures, seen under ``-n 2`` where the split put them there)."""
    done = run_in_order("tests/test_cache.py::test_the_pass_cache_sees_a_model_config_edited_between_runs",
                        "tests/test_trainer_yaml.py::test_invalid")
    assert done.returncode == 0, done.stdout[-3000:]


def test_cache_tests_pass_after_an_in_process_lora_check():
    """An in-process ``--lora-check`` run that linted left ``lint_rules.analysis`` bound on the
    ``lint_rules`` package after pytester dropped it from ``sys.modules``; the engine imported
    next took that copy, whose libcst is not the parser's: every lint of test_cache.py ended in
    an internal error (exit 2), 25 failures after test_lint_check.py."""
    done = run_in_order("tests/test_lint_check.py::test_config_comes_from_the_rootdir_pyproject",
                        "tests/test_cache.py::test_a_local_model_config_edited_between_runs_is_read_again")
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_second_in_process_lora_check_lints_with_its_own_modules(pytester):
    """Two linting runs in one test: the second imports the engine again, which must not find
    the first run's analysis package still bound on ``lint_rules``."""
    pytester.makepyfile(cfg=PASSING)
    for _ in range(2):
        pytester.runpytest("--lora-check", "-p", "no:cacheprovider", "--lora-check-runtime=no").assert_outcomes(passed=1)


def test_a_dropped_submodule_is_unbound_and_imported_again(tmp_path, monkeypatch):
    package = tmp_path / "dropped_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import dropped_pkg.sub

    try:
        first = dropped_pkg.sub
        built = dropped_pkg.built = ModuleType("dropped_pkg.built")  # made by the package, not imported
        del sys.modules["dropped_pkg.sub"]
        forget_dropped_submodules()
        assert not hasattr(dropped_pkg, "sub") and dropped_pkg.built is built
        from dropped_pkg import sub
        assert sub is not first and sys.modules["dropped_pkg.sub"] is sub
    finally:
        for name in ("dropped_pkg.sub", "dropped_pkg"):
            sys.modules.pop(name, None)
