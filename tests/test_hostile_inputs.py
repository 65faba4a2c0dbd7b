"""Hostile inputs that already behave and must stay so (issue 8, "Keep it fixed"): undecodable or
odd files get LORA000 or a one-line message, never a traceback, and ``--fix`` never touches them.

The real ``lora-lint`` runs in-process; the inputs are the ones of the hostile-testing report
(binary, invalid UTF-8, UTF-16, latin-1 cookie, NUL bytes, a 1 MB line, dangling symlinks, a
folder named ``x.py``, malformed notebook JSON).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_run import lint

TYPO = 'from peft import LoraConfig\n\nconfig = LoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'
FIXED = TYPO.replace("nit_lora", "init_lora")


def no_traceback(err: str) -> bool:
    return "Traceback" not in err and "internal error" not in err


UNDECODABLE = {
    "binary.py": bytes(range(256)) * 8 + b"\nLoraConfig(r=0)\n",
    "invalid_utf8.py": b"from peft import LoraConfig\nx = '\xff\xfe'\nLoraConfig(nit_lora_weights=1)\n",
    "utf16.py": "\ufefffrom peft import LoraConfig\nLoraConfig(nit_lora_weights=1)\n".encode("utf-16"),
    "bad_cookie.py": b"# -*- coding: klingon -*-\nfrom peft import LoraConfig\n",
}


@pytest.mark.parametrize("name", sorted(UNDECODABLE))
def test_undecodable_files_are_lora000_and_never_written(project, capsys, name):
    path = project / name
    path.write_bytes(UNDECODABLE[name])
    code, out, err = lint(capsys, "--fix", "--unsafe-fixes", name)
    assert code == 1 and out.startswith(f"{name}:1:1: LORA000 ") and no_traceback(err)
    assert path.read_bytes() == UNDECODABLE[name]


def test_null_bytes_are_a_syntax_error_not_a_crash(project, capsys):
    path = project / "nul.py"
    data = b"from peft import LoraConfig\nLoraConfig(r=8,\x00 nit_lora_weights=1)\n"
    path.write_bytes(data)
    code, out, err = lint(capsys, "--fix", "nul.py")
    assert code == 1 and out.startswith("nul.py:") and " LORA000 " in out and no_traceback(err)
    assert path.read_bytes() == data


def test_latin_1_cookie_finding_at_the_right_column(project, capsys):
    path = project / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9\xe9'; from peft import LoraConfig\n"
                     b"LoraConfig(r=8, lora_alpha=16, t='\xe9', nit_lora_weights=1)\n")
    code, out, _ = lint(capsys, "latin.py")
    assert code == 1 and "latin.py:3:39: LORA003 [*] " in out and "`nit_lora_weights`" in out


def test_a_one_megabyte_line_is_linted_and_kept_byte_for_byte(project, capsys):
    long_line = "BLOB = '" + "x" * (1 << 20) + "'\n"
    path = project / "long.py"
    path.write_text(long_line + TYPO)
    code, out, err = lint(capsys, "--fix", "long.py")
    assert code == 0 and path.read_text() == long_line + FIXED and no_traceback(err)


def test_dangling_symlinks_are_skipped_in_a_walk_and_an_error_when_named(project, capsys):
    (project / "ok.py").write_text(TYPO)
    (project / "dangling.py").symlink_to("nowhere.py")
    code, out, err = lint(capsys, ".")
    assert code == 1 and out.startswith("ok.py:3:41: LORA003") and "dangling" not in out + err
    code, out, err = lint(capsys, "dangling.py")
    assert code == 2 and "dangling.py" in err and no_traceback(err)


def test_a_folder_named_like_a_python_file_is_walked_into(project, capsys):
    (project / "x.py").mkdir()
    (project / "x.py" / "inner.py").write_text(TYPO)
    code, out, err = lint(capsys, "--fix", ".")
    assert code == 0 and (project / "x.py" / "inner.py").read_text() == FIXED
    code, out, err = lint(capsys, "x.py")
    assert code == 0 and no_traceback(err)


@pytest.mark.parametrize("text", [
    '{"cells": [{"cell_type": "code", "source": ["from peft import LoraConfig\\n"',  # truncated
    "not json at all",
    '{"cells": "a string", "nbformat": 4}',
    "[1, 2, 3]",
])  # an empty file is a notebook without cells (test_cli.py::test_an_empty_notebook_file_has_no_cells_and_no_finding)
def test_malformed_notebooks_are_lora000_and_never_written(project, capsys, text):
    path = project / "nb.ipynb"
    path.write_text(text)
    code, out, err = lint(capsys, "--fix", "--unsafe-fixes", "nb.ipynb")
    assert code == 1 and " LORA000 " in out and no_traceback(err)
    assert path.read_text() == text


def test_a_notebook_with_a_fix_stays_valid_json(project, capsys):
    cell = {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [],
            "source": TYPO.splitlines(keepends=True)}
    path = project / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    assert lint(capsys, "--fix", "nb.ipynb")[0] == 0
    assert "".join(json.loads(path.read_text())["cells"][0]["source"]) == FIXED


def test_an_empty_file_and_an_empty_folder_pass(project, capsys):
    (project / "empty.py").write_bytes(b"")
    (project / "sub").mkdir()
    assert lint(capsys, "empty.py")[0] == 0
    assert lint(capsys, "sub")[0] == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_a_walked_folder_is_skipped(project, capsys):
    os.mkfifo(project / "pipe.py")
    (project / "ok.py").write_text(TYPO)
    code, out, _ = lint(capsys, ".")
    assert code == 1 and out.startswith("ok.py:") and "pipe.py" not in out


def test_fix_never_creates_or_leaves_other_files(project, capsys):
    for i in range(5):
        (project / f"f{i}.py").write_text(TYPO)
    before = {p.name for p in project.iterdir()}
    assert lint(capsys, "--fix", ".")[0] == 0
    assert {p.name for p in project.iterdir()} == before
    assert all(Path(project / f"f{i}.py").read_text() == FIXED for i in range(5))
