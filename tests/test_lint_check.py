"""``pytest --lora-check`` through pytester (in-process, plus xdist and subprocess runs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

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
