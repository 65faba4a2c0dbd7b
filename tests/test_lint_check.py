"""``pytest --lora-check`` through pytester (in-process, plus xdist and subprocess runs)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lint_rules.cache import RACY_NS

BROKEN = "from peft import LoraConfig\nconfig = LoraConfig(r=8\n"
CLEAN = "import peft\n\nprint(peft.LoraConfig.__name__)\n"  # mentions LoraConfig, calls nothing
UNRELATED = "import peft\nx = (\n"  # does not parse, but never mentions LoraConfig: not collected


@pytest.fixture
def files(pytester):
    pytester.makepyfile(broken=BROKEN, clean=CLEAN, unrelated=UNRELATED)
    return pytester


def test_help_lists_the_options(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--lora-check *", "*--lora-check-select=RULES*", "*lora_check_select*"])


def test_one_item_per_peft_file_and_concise_failures(files):
    result = files.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ broken.py::lora-check _*",
        "broken.py:2:20: LORA000 SyntaxError: '(' was never closed",
        "FAILED broken.py::lora-check - *",
    ])
    assert "Traceback" not in result.stdout.str() and "LoraCheckError" not in result.stdout.str()
    collected = files.runpytest("--lora-check", "--co", "-q", "-p", "no:cacheprovider")
    assert sorted(collected.stdout.lines[:2]) == ["broken.py::lora-check", "clean.py::lora-check"]


def test_without_the_flag_nothing_is_checked(files):
    files.runpytest().assert_outcomes()
    assert files.runpytest("--lora-check", "-m", "lora_check").parseoutcomes()["failed"] == 1


def test_config_comes_from_the_rootdir_pyproject(files):
    files.makepyprojecttoml("[tool.lora-lint]\nignore = ['syntax-error']\n")
    files.runpytest("--lora-check").assert_outcomes(passed=2)


def test_bad_config_is_a_usage_error(files):
    files.makepyprojecttoml("[tool.lora-lint]\nselec = ['LORA000']\n")
    result = files.runpytest("--lora-check")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'selec'*did you mean 'select'*"])


def test_select_option_and_ini(files):
    result = files.runpytest("--lora-check", "--lora-check-select", "LORA0O0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    files.makeini("[pytest]\nlora_check_select = LORA000\n")
    files.runpytest("--lora-check").assert_outcomes(passed=1, failed=1)


def test_pass_cache_is_seeded_and_not_stale(files):
    files.runpytest("--lora-check").assert_outcomes(passed=1, failed=1)
    stored = json.loads(files.path.joinpath(".pytest_cache/v/lora_check/passed").read_text())
    verdicts = {Path(key).name: entry[2] for key, entry in stored["files"].items()}
    assert verdicts == {"clean.py": "pass", "unrelated.py": "skip"}  # broken.py failed: not recorded
    files.runpytest("--lora-check").assert_outcomes(passed=1, failed=1)
    files.makepyfile(clean=BROKEN)
    files.runpytest("--lora-check").assert_outcomes(failed=2)


def test_under_xdist(files):
    pytest.importorskip("xdist")
    result = files.runpytest_subprocess("--lora-check", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*broken.py:2:20: LORA000*"])
    stored = json.loads(files.path.joinpath(".pytest_cache/v/lora_check/passed").read_text())
    assert [entry[2] for key, entry in stored["files"].items() if key.endswith("clean.py")] == ["pass"]


def test_p_no_lora_disables_the_plugin(files):
    result = files.runpytest("-p", "no:lora", "--lora-check")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    files.runpytest("-p", "no:lora").assert_outcomes()


def test_libcst_is_not_imported_without_the_flag(files):
    files.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    open('loaded.txt', 'w').write(str('libcst' in sys.modules))\n"
    )
    files.runpytest_subprocess("--co")
    assert files.path.joinpath("loaded.txt").read_text() == "False"
    files.runpytest_subprocess("--co", "--lora-check")
    assert files.path.joinpath("loaded.txt").read_text() == "True"


PASSING = ('from peft import LoraConfig\n\n'
           'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")\n')
LOADED = ("import sys\n"
          "def pytest_unconfigure(config):\n"
          "    wanted = {wanted!r}\n"
          "    found = sorted(m for m in sys.modules if m in wanted or m.startswith(wanted))\n"
          "    open('loaded.txt', 'w').write(' '.join(found))\n")


def test_an_unused_plugin_imports_nothing_of_the_linter(files):
    """Installed but not asked for (no ``--lora-check``, no fixture used), the plugin loads its
    entry point and the fixtures module, nothing else (issue 7: pytest with the plugin unused)."""
    files.makeconftest(LOADED.format(wanted=("lint_rules", "pytest_lora", "libcst")))
    files.runpytest_subprocess().assert_outcomes()
    assert files.path.joinpath("loaded.txt").read_text() == "pytest_lora pytest_lora.fixtures pytest_lora.plugin"


def test_a_cached_check_imports_no_rule_source_reader_or_gitignore_matcher(pytester):
    """Every file already passed: the plugin learns so from its stored verdicts and the stored
    settings, without the rule catalog, a source module, pathspec or the runtime check."""
    pytester.makepyfile(cfg=PASSING, clean=CLEAN, test_plain="def test_nothing():\n    pass\n")
    unwanted = ("libcst", "lint_rules.catalog", "lint_rules.rule", "lint_rules.engine", "lint_rules.sources.python",
                "lint_rules.sources.notebook", "lint_rules.sources.adapter_config", "lint_rules.sources.trainer_yaml",
                "pathspec", "pytest_lora.runtime_check")
    pytester.makeconftest(LOADED.format(wanted=unwanted))
    time.sleep(RACY_NS / 1e9 + 0.1)  # files changed within that window are read again (their ctime)
    pytester.runpytest_subprocess("--lora-check").assert_outcomes(passed=3)
    assert "libcst" in pytester.path.joinpath("loaded.txt").read_text()  # the first run linted
    pytester.runpytest_subprocess("--lora-check").assert_outcomes(passed=3)
    assert pytester.path.joinpath("loaded.txt").read_text() == ""


def test_a_run_that_learns_nothing_writes_no_verdicts(pytester, monkeypatch):
    """Every file known and unchanged: the stored verdicts (and runtime rows) are left as they
    are; a cached run used to sign and write them all again."""
    import lint_rules.engine  # noqa: F401  (imported out here: pytester drops what a run imports)
    from lint_rules import cache

    monkeypatch.setattr(cache, "RACY_NS", 0)  # files written just now count as settled
    pytester.makepyfile(cfg=PASSING, clean=CLEAN)
    pytester.runpytest("--lora-check").assert_outcomes(passed=2)
    stored = [path for path in pytester.path.joinpath(".pytest_cache/v/lora_check").iterdir()]
    assert "passed" in [path.name for path in stored]
    for path in stored:
        os.utime(path, ns=(10**9, 10**9))
    pytester.runpytest("--lora-check").assert_outcomes(passed=2)
    assert [path.stat().st_mtime_ns for path in stored] == [10**9] * len(stored)
    pytester.makepyfile(clean=CLEAN + "\n")  # a changed file is recorded again
    pytester.runpytest("--lora-check").assert_outcomes(passed=2)
    assert pytester.path.joinpath(".pytest_cache/v/lora_check/passed").stat().st_mtime_ns != 10**9


def test_excludes_and_gitignore_apply(files):
    files.makepyprojecttoml("[tool.lora-lint]\nextend-exclude = ['broken.py']\n")
    files.makepyfile(generated="from peft import LoraConfig\nLoraConfig(r=8\n")
    files.path.joinpath(".gitignore").write_text("generated.py\n")
    files.runpytest("--lora-check").assert_outcomes(passed=1)
    files.path.joinpath(".gitignore").write_text("generated.py\nout/\n")
    files.path.joinpath("out").mkdir()
    files.path.joinpath("out", "copy.py").write_text(BROKEN)
    files.runpytest("--lora-check").assert_outcomes(passed=1)


def test_a_file_with_a_coding_cookie_is_checked_as_python_reads_it(pytester):
    pytester.path.joinpath("latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + BROKEN.encode("latin-1"))
    result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["latin.py:4:20: LORA000 *"])


def test_checking_a_package_never_imports_it(pytester):
    """pytest sets a package up by importing its ``__init__.py`` before any item below it runs;
    a check item must not: the package may need what is not installed, or import torch.
    huggingface/smollm's ``vision/m4/models/*.py`` checks ended in ModuleNotFoundError
    ('albumentations') from ``m4/__init__.py``, not in their findings."""
    pkg = pytester.mkpydir("pkg")
    (pkg / "__init__.py").write_text("open('imported', 'w').close()\nimport not_installed_anywhere_xyz\n"
                                     "from peft import LoraConfig\n")
    (pkg / "train.py").write_text(BROKEN)
    (pkg / "ok.py").write_text(CLEAN)
    result = pytester.runpytest("--lora-check", "-m", "lora_check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=2, errors=0)
    result.stdout.fnmatch_lines(["pkg/train.py:2:20: LORA000*"])
    assert not (pytester.path / "imported").exists()
    # the items keep the ids a user selects and deselects them by
    ids = pytester.runpytest("--lora-check", "-m", "lora_check", "--co", "-q", "-p", "no:cacheprovider").stdout.lines
    assert {"pkg/__init__.py::lora-check", "pkg/train.py::lora-check", "pkg/ok.py::lora-check"} <= set(ids)


def test_only_the_checks_run_without_the_python_plugin(files):
    """``-p no:python``: no test module is imported (one that cannot be is no collection error),
    and every check runs."""
    files.makepyfile(test_needs_network="import not_installed_anywhere_xyz\n\ndef test_x():\n    pass\n")
    assert files.runpytest("--lora-check", "-p", "no:cacheprovider").ret == 2  # interrupted: collection error
    result = files.runpytest("-p", "no:python", "--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=0)


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                  "source": cell} for cell in cells],
                       "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5})


@pytest.mark.parametrize("runtime", ["no", "yes"])
def test_notebooks_that_use_peft_are_checked_as_lora_lint_checks_them(pytester, runtime):
    """A notebook is an item as lora-lint reads it (findings at cell:row); one that never names a
    trigger gets none, even when it is not JSON (lora-lint alone reports that)."""
    pytester.makefile(".ipynb", train=_notebook("!pip install peft\n", "from peft import LoraConfig\n"
                                                "config = LoraConfig(r=0, lora_alpha=16)\n"))
    pytester.makefile(".ipynb", plots=_notebook("import matplotlib\n"))
    pytester.makefile(".ipynb", draft="{not json")
    result = pytester.runpytest("-p", "no:python", "--lora-check", f"--lora-check-runtime={runtime}",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["train.ipynb:cell 2:2:23: LORA004 *"])
    ids = pytester.runpytest("-p", "no:python", "--lora-check", "--co", "-q", "-p", "no:cacheprovider").stdout.lines
    assert "train.ipynb::lora-check" in ids and not any("plots" in i or "draft" in i for i in ids)
