"""Hostile trees and files: no traceback, no hang, no unbounded read, nothing skipped silently.

Each test reproduces an input of the hostile-testing report (issue 8, items 5, 6, 7, 9, 12, 16,
19 and 22): the run ends with a one-line message naming the file and exit code 2 for what it
cannot read, and still lints everything else.
"""
from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from lint_rules import reading
from lint_rules.cli import main
from lint_rules.engine import lint_source

TYPO = 'from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'
DORA = "from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16, use_dora=True)\n"
SCRIPT_TEXT = "import sys\nfrom lint_rules.cli import main\nsys.exit(main())\n"  # what the lora-lint entry point runs


@pytest.fixture
def lora_lint(tmp_path_factory) -> list[str]:
    """A ``lora-lint`` console script: its own folder, not the working one, is first on ``sys.path``."""
    script = tmp_path_factory.mktemp("bin") / "lora-lint"
    script.write_text(SCRIPT_TEXT)
    return [sys.executable, str(script)]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """An empty project (``setup.py`` marks its root) that is the working folder."""
    (tmp_path / "setup.py").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--no-cache", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@contextmanager
def fifo(path: Path):
    """A FIFO at ``path``. A helper thread opens it for writing now and then, so that a reader
    that blocks on it (the defect) gets an empty read instead of hanging the test run."""
    os.mkfifo(path)
    stop = threading.Event()

    def unblock() -> None:
        while not stop.wait(0.5):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader waiting
                pass

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()


def run_cli(args: list[str], cwd: Path, *, memory: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    """``lora-lint ARGS`` in a subprocess (at most ``memory`` bytes of address space), 120 s at most."""
    script = cwd.parent / f"{cwd.name}-lora-lint"
    script.write_text(SCRIPT_TEXT)

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, str(script), "--no-cache", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, preexec_fn=limit, **kwargs)


# --- the shared reader -------------------------------------------------------------------------

def test_read_bytes_reads_regular_files_up_to_the_limit(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 10)
    assert reading.read_bytes(path, 10) == b"x" * 10
    with pytest.raises(reading.NotRead, match="10 bytes, over the 9 bytes limit"):
        reading.read_bytes(path, 9)
    with pytest.raises(reading.NotRead, match=r"not a regular file \(a folder\)"):
        reading.read_bytes(tmp_path, 10)
    with pytest.raises(reading.NotRead, match=r"not a regular file \(a character device\)"):
        reading.read_bytes("/dev/zero", 10)
    with fifo(tmp_path / "f") as pipe, pytest.raises(reading.NotRead, match=r"not a regular file \(a FIFO\)"):
        reading.read_bytes(pipe, 10)
    with pytest.raises(FileNotFoundError):
        reading.read_bytes(tmp_path / "missing", 10)


# --- item 5: tracebacks from ordinary input ----------------------------------------------------

def test_symlink_loop_in_a_walked_folder_is_reported_and_the_rest_linted(tree, capsys):
    (tree / "typo.py").write_text(TYPO)
    os.symlink("a.py", tree / "b.py")
    os.symlink("b.py", tree / "a.py")
    os.symlink("self.py", tree / "self.py")
    code, out, err = lint(capsys, ".")
    assert code == 2
    assert "typo.py:2:" in out and "LORA003" in out
    assert "error: a.py: cannot read: [Errno 40] Too many levels of symbolic links" in err
    assert "error: self.py: cannot read:" in err and "Traceback" not in err


@pytest.mark.parametrize("pattern", ["[z-a].py", "[]", "[[:nope:]].py", "\\"])
def test_gitignore_patterns_git_cannot_match_match_nothing(tree, capsys, pattern):
    (tree / ".gitignore").write_text(pattern + "\n")
    (tree / "z.py").write_text(TYPO)
    code, out, err = lint(capsys, ".")
    assert (code, err.count("error:")) == (1, 0)
    assert "z.py:2:" in out


@pytest.mark.parametrize(("toml", "message"), [
    ('[project]\nname = "x"\noptional-dependencies = ["peft>=0.7"]\n',
     "pyproject.toml: 'optional-dependencies' must be a table, not list"),
    ('project = "x"\n', "pyproject.toml: 'project' must be a table, not str"),
    ('[tool]\npoetry = "x"\n', "pyproject.toml: 'poetry' must be a table, not str"),
    ('[tool.poetry]\ngroup = ["dev"]\n', "pyproject.toml: 'group' must be a table, not list"),
    ('[tool.poetry.group]\ndev = 1\n', "pyproject.toml [tool.poetry.group]: 'dev' must be a table, not int"),
    ('[project]\ndependencies = "peft<0.9"\n', "pyproject.toml: [project] dependencies must be a list of strings"),
])
def test_wrong_typed_project_tables_are_a_config_error(tree, capsys, toml, message):
    (tree / "pyproject.toml").write_text(toml)
    (tree / "a.py").write_text(TYPO)
    code, out, err = lint(capsys, ".")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"error: {message}"]


def test_unreadable_folder_named_on_the_command_line(tree, capsys, monkeypatch):
    """What a non-root user gets from a mode-000 folder: no stat inside it, no listing of it."""
    locked = tree / "locked"
    locked.mkdir()
    (tree / "ok.py").write_text(TYPO)
    real_stat, real_scandir = os.stat, os.scandir

    def stat(path, *args, **kwargs):
        if str(path).startswith(f"{locked}/"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    def scandir(path="."):
        if str(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = lint(capsys, "locked", "ok.py")
    assert code == 2
    assert "error: locked: cannot read the folder: Permission denied" in err
    assert "ok.py:2:" in out


def test_pyproject_with_wrong_types_is_a_usage_error_under_pytest(pytester):
    pytester.makepyprojecttoml('[project]\nname = "x"\noptional-dependencies = ["peft"]\n')
    pytester.makepyfile(typo=TYPO)
    result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--lora-check: pyproject.toml: 'optional-dependencies' must be a table*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_invalid_gitignore_pattern_does_not_abort_pytest_collection(pytester):
    pytester.makepyprojecttoml('[project]\nname = "x"\n')
    pytester.path.joinpath(".gitignore").write_text("[z-a].py\n")
    pytester.makepyfile(typo=TYPO, test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_unreadable_gitignore_is_a_warning_under_pytest(pytester):
    pytester.makepyprojecttoml('[project]\nname = "x"\n')
    pytester.makepyfile(typo=TYPO)
    with fifo(pytester.path / ".gitignore"):
        result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, warnings=1)
    result.stdout.fnmatch_lines(["*--lora-check: .gitignore: cannot read: not a regular file (a FIFO)*"])


# --- item 6: only regular files are read --------------------------------------------------------

def test_fifo_named_as_a_source_is_reported(tree, capsys):
    with fifo(tree / "x.py"):
        code, out, err = lint(capsys, "x.py")
    assert code == 2
    assert err.splitlines()[0] == "error: x.py: cannot read: not a regular file (a FIFO)"


def test_fifo_requirements_file_is_reported(tree, capsys):
    (tree / "ok.py").write_text(DORA)
    with fifo(tree / "requirements.txt"):
        code, out, err = lint(capsys, "ok.py")
    assert code == 2
    assert err.splitlines() == ["error: cannot read requirements.txt: not a regular file (a FIFO)"]


def test_requirements_including_stdin_never_block(tree):
    (tree / "ok.py").write_text(DORA)
    (tree / "requirements.txt").write_text("-r /dev/stdin\n")
    done = run_cli(["ok.py"], tree, stdin=subprocess.PIPE)  # stdin stays open: a read would block
    assert done.returncode == 2
    assert "error: cannot read /dev/stdin (included by requirements.txt): not a regular file" in done.stderr


def test_fifo_gitignore_is_reported_and_the_run_goes_on(tree, capsys):
    (tree / "a.py").write_text(TYPO)
    with fifo(tree / ".gitignore"):
        code, out, err = lint(capsys, ".")
    assert code == 2
    assert "a.py:2:" in out
    assert "error: .gitignore: cannot read: not a regular file (a FIFO); its patterns are not applied" in err


def test_fifo_model_config_never_blocks(tree):
    (tree / "m").mkdir()
    os.mkfifo(tree / "m" / "config.json")
    (tree / "c.py").write_text('from peft import LoraConfig\n# lora-lint: model=./m\n'
                               'LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"])\n')
    done = run_cli(["c.py"], tree)  # nothing ever writes to the FIFO: a read would hang
    assert done.returncode == 0, done.stderr  # an unknown model: nothing can be proven


# --- item 7: bounded reads ---------------------------------------------------------------------

MEMORY = 1 << 30  # far more than a run needs, far less than reading /dev/zero takes


def test_requirements_including_dev_zero(tree):
    (tree / "ok.py").write_text(DORA)
    (tree / "requirements.txt").write_text("-r /dev/zero\n")
    done = run_cli(["ok.py"], tree, memory=MEMORY)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: cannot read /dev/zero (included by requirements.txt): not a regular file (a character device)"]


def test_gitignore_linked_to_dev_zero(tree):
    (tree / "a.py").write_text(TYPO)
    os.symlink("/dev/zero", tree / ".gitignore")
    done = run_cli(["."], tree, memory=MEMORY)
    assert done.returncode == 2, done.stderr
    assert "a.py:2:" in done.stdout
    assert "error: .gitignore: cannot read: not a regular file (a character device)" in done.stderr


def test_model_config_linked_to_dev_zero(tree):
    (tree / "m").mkdir()
    os.symlink("/dev/zero", tree / "m" / "config.json")
    (tree / "c.py").write_text('from peft import LoraConfig\n# lora-lint: model=./m\n'
                               'LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"])\n')
    done = run_cli(["c.py"], tree, memory=MEMORY)
    assert done.returncode == 0, done.stderr


def test_source_over_the_size_limit_is_reported_and_skipped(tree, capsys):
    filler = "# padding\n" * (reading.SOURCE_LIMIT // 10 * 3 // 2)
    (tree / "big.py").write_text(TYPO + filler)
    (tree / "big_unrelated.py").write_text(filler)  # never parsed: no limit needed
    (tree / "small.py").write_text(TYPO)
    code, out, err = lint(capsys, ".")
    assert code == 2
    assert "small.py:2:" in out and "big.py" not in out
    assert err.splitlines()[0] == "error: big.py: not linted: 3.0 MB, over the 2 MB limit for a source file that uses peft"
    assert "big_unrelated.py" not in err


# --- item 9: pytest --lora-check reports what lora-lint reports ----------------------------------

def test_lora_check_reports_undecodable_files(pytester):
    pytester.makepyprojecttoml('[project]\nname = "x"\nversion = "0"\n')
    pytester.path.joinpath("latin.py").write_bytes(b'from peft import LoraConfig\nx = "\xff"\n')
    result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["latin.py:1:1: LORA000 cannot decode the file: *"])


def test_lora_check_reports_a_file_it_may_not_read(pytester, monkeypatch):
    pytester.makepyprojecttoml('[project]\nname = "x"\nversion = "0"\n')
    secret = pytester.makepyfile(secret="import peft\n")
    real_open = os.open

    def deny(path, *args, **kwargs):
        if str(path) == str(secret):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    result = pytester.runpytest("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["error: secret.py: cannot read: [[]Errno 13[]] Permission denied*"])


# --- item 12: declared peft ranges are read, or reported ---------------------------------------

SCRIPT = "# /// script\n# dependencies = [\"peft<0.9\"]\n# ///\n" + DORA


def test_pep_723_block_with_crlf_line_endings_counts():
    for text in (SCRIPT, SCRIPT.replace("\n", "\r\n")):
        assert [v.code for v in lint_source(text, settings={"select": ["LORA101"]})] == ["LORA101"]


@pytest.mark.parametrize(("block", "message"), [
    ('# dependencies = ["peft<0.9"\n', "the script's PEP 723 metadata: invalid TOML: "),
    ('# dependencies = "peft<0.9"\n', "the script's PEP 723 metadata: 'dependencies' must be a list of strings"),
    ('# dependencies = ["peft>=banana"]\n', "the script's PEP 723 metadata: invalid requirement 'peft>=banana': "),
    ('# dependencies = ["peft<0.0.1"]\n', "no known peft release matches '<0.0.1' (from the script's PEP 723 metadata)"),
])
def test_malformed_pep_723_block_is_reported(tree, capsys, block, message):
    (tree / "s.py").write_text(f"# /// script\n{block}# ///\n{DORA}")
    (tree / "t.py").write_text(TYPO)
    code, out, err = lint(capsys, ".")
    assert code == 2
    assert "t.py:2:" in out  # the run goes on
    assert f"error: s.py: {message}" in err


def test_unclosed_or_repeated_pep_723_block_is_reported(tree, capsys):
    (tree / "open.py").write_text('# /// script\n# dependencies = ["peft<0.9"]\n' + DORA)
    (tree / "twice.py").write_text(SCRIPT.replace(DORA, "") + SCRIPT)
    code, out, err = lint(capsys, ".")
    assert code == 2
    assert "error: open.py: the script's PEP 723 metadata: the '# /// script' block is not closed" in err
    assert "error: twice.py: the script's PEP 723 metadata: more than one '# /// script' block" in err


@pytest.mark.parametrize(("name", "text", "message"), [
    ("pyproject.toml", '[project]\ndependencies = ["peft>=banana"]\n',
     "pyproject.toml ([project] dependencies): invalid requirement 'peft>=banana'"),
    ("pyproject.toml", '[tool.poetry.dependencies]\npeft = "^banana"\n',
     "pyproject.toml ([tool.poetry.dependencies]): invalid version constraint peft = '^banana'"),
    ("requirements.txt", "peft>=banana\n", "requirements.txt: invalid requirement 'peft>=banana'"),
    ("setup.cfg", "[options]\ninstall_requires =\n    peft>=banana\n",
     "setup.cfg ([options] install_requires): invalid requirement 'peft>=banana'"),
])
def test_unreadable_project_declaration_is_a_config_error(tree, capsys, name, text, message):
    (tree / name).write_text(text)
    (tree / "a.py").write_text(DORA)
    code, out, err = lint(capsys, "a.py")
    assert code == 2
    assert err.startswith(f"error: {message}")


def test_other_packages_and_pip_options_are_not_errors(tree, capsys):
    (tree / "requirements.txt").write_text("notpeft>=banana\npeft<0.9 --hash=sha256:0123\n-e .\n")
    (tree / "a.py").write_text(DORA)
    code, out, err = lint(capsys, "--select", "LORA101", "a.py")
    assert (code, err.count("error:")) == (1, 0)
    assert "LORA101" in out


def test_invalid_target_transformers_version_is_a_config_error(tree, capsys):
    (tree / "lora-lint.toml").write_text('target-transformers-version = "banana"\n')
    (tree / "a.py").write_text(TYPO)
    code, out, err = lint(capsys, "a.py")
    assert code == 2
    assert err.startswith("error: invalid transformers version or specifier 'banana' (from ")
    (tree / "lora-lint.toml").write_text('target-transformers-version = ">=4.40"\n')
    assert lint(capsys, "a.py")[0] == 1


# --- item 16: nothing skipped without a message -----------------------------------------------

def test_unreadable_subfolder_is_reported(tree, capsys, monkeypatch):
    (tree / "sub").mkdir()
    (tree / "sub" / "hidden.py").write_text(TYPO)
    (tree / "ok.py").write_text(TYPO)
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path) == str(tree / "sub"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = lint(capsys, ".")
    assert code == 2
    assert "ok.py:2:" in out
    assert err.splitlines()[0] == "error: sub: cannot read the folder: Permission denied"


def test_folder_deeper_than_path_max_is_reported(tree, capsys):
    (tree / "ok.py").write_text(TYPO)
    fd = os.open(tree, os.O_RDONLY)
    request_cleanup = tree / ("d" * 199)
    try:
        for _ in range(os.pathconf(tree, "PC_PATH_MAX") // 200 + 1):
            os.mkdir("d" * 199, dir_fd=fd)
            inner = os.open("d" * 199, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as handle:
            handle.write(TYPO)
    finally:
        os.close(fd)
    try:
        code, out, err = lint(capsys, ".")
    finally:
        shutil.rmtree(request_cleanup)  # by file descriptors: pytest's own clean-up cannot
    assert code == 2
    assert "ok.py:2:" in out
    assert err.count("error:") == 1 and "cannot read the folder: File name too long" in err


def test_exclude_with_a_trailing_slash_means_folders_only(tree, capsys):
    (tree / "lora-lint.toml").write_text('extend-exclude = ["a.py/", "gen/"]\n')
    (tree / "a.py").write_text(TYPO)
    (tree / "gen").mkdir()
    (tree / "gen" / "b.py").write_text(TYPO)
    (tree / "pkg" / "a.py").mkdir(parents=True)
    (tree / "pkg" / "a.py" / "c.py").write_text(TYPO)
    code, out, err = lint(capsys, ".")
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == ["a.py"]


# --- item 19: .gitignore as git reads it --------------------------------------------------------

NAMES = ["a.py", "A.py", "1.py", "_.py", "!.py", "].py", " x.py", "Z9.py"]


@pytest.mark.parametrize(("pattern", "ignored"), [  # what `git status --ignored` says (git 2.43)
    ("[[:alpha:]].py", ["A.py", "a.py"]),
    ("[[:digit:]].py", ["1.py"]),
    ("[![:alpha:]].py", ["!.py", "1.py", "].py", "_.py"]),
    ("[[:punct:]].py", ["!.py", "].py", "_.py"]),
    ("[[:space:]]x.py", [" x.py"]),
    ("[[:upper:][:digit:]]*.py", ["1.py", "A.py", "Z9.py"]),
    ("[z-a].py", []),
    ("[[:nope:]].py", []),
])
def test_gitignore_posix_character_classes(tree, capsys, pattern, ignored):
    (tree / ".gitignore").write_text(pattern + "\n")
    for name in NAMES:
        (tree / name).write_text(TYPO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Python's re warns about "[[" as a possible nested set
        code, out, err = lint(capsys, ".")
    linted = {line.split(":")[0] for line in out.splitlines()}
    assert sorted(set(NAMES) - linted) == sorted(ignored)


# --- item 22: the linted tree's modules are never imported ---------------------------------------

def hostile_tree(root: Path) -> Path:
    for name in ("difflib", "argparse"):
        (root / f"{name}.py").write_text(f"open({str(root / ('PWNED_' + name))!r}, 'w').close()\n")
    (root / "tomllib").mkdir()
    (root / "tomllib" / "__init__.py").write_text(f"open({str(root / 'PWNED_tomllib')!r}, 'w').close()\n")
    (root / "pyproject.toml").write_text("[tool.lora-lint]\n")
    (root / "a.py").write_text(TYPO)
    return root


@pytest.mark.parametrize("how", ["-m", "script"])
def test_running_inside_a_hostile_tree_imports_nothing_from_it(tmp_path, lora_lint, how):
    root = hostile_tree(tmp_path)
    command = [sys.executable, "-m", "lint_rules"] if how == "-m" else lora_lint
    done = subprocess.run([*command, "--no-cache", "."], cwd=root, capture_output=True, text=True, timeout=120)
    assert sorted(p.name for p in root.glob("PWNED_*")) == []
    assert done.returncode == 1 and "LORA003" in done.stdout, done.stderr
