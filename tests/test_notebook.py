"""Notebooks as Jupyter runs them: IPython syntax, one broken cell among good ones, nbformat 3,
non-Python kernels; and ``--fix`` that edits only the fixed cell's source in the JSON text."""
from __future__ import annotations

import json

import pytest

from lint_rules.cli import main
from lint_rules.engine import fix_source, lint_source

IMPORT = "from peft import LoraConfig\n"
TYPO = 'LoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'  # LORA003, a safe fix


def notebook(*cells: str | list[str], metadata: dict | None = None, **extra) -> str:
    """An nbformat 4 notebook (Jupyter's layout) with one code cell per argument."""
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": cell if isinstance(cell, list) else cell.splitlines(keepends=True)}
                  for cell in cells],
        "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5, **extra,
    }, indent=1, ensure_ascii=False) + "\n"


def found(text: str, **kwargs) -> list[tuple[str, int | None, int, int]]:
    return [(v.code, v.extra.get("cell"), v.location.row, v.location.column)
            for v in lint_source(text, filename="nb.ipynb", **kwargs)]


def cells(text: str) -> list[str]:
    data = json.loads(text)
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in data["cells"]]


# --- issue 8 item 8: --fix edits the fixed cell's source in place -------------------------------

def test_fix_changes_only_the_fixed_text_hostile_d11(tmp_path, monkeypatch, capsys):
    """The D11 reproducer: metadata 1e400, an untouched CRLF string cell; every other byte stays."""
    text = ('{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {"x": 1e400}, '
            '"outputs": [], "source": ["from peft import LoraConfig\\n", "LoraConfig(r=8, lora_alpha=16, '
            'nit_lora_weights=\\"gaussian\\")"]}, {"cell_type": "code", "execution_count": null, "id": "b", '
            '"metadata": {}, "outputs": [], "source": "x = 1\\r\\ny = 2\\r\\n"}], "metadata": {}, '
            '"nbformat": 4, "nbformat_minor": 5}\n')
    path = tmp_path / "n.ipynb"
    path.write_bytes(text.encode())
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--fix", "n.ipynb"]) == 0
    assert path.read_bytes().decode() == text.replace("nit_lora_weights", "init_lora_weights")
    capsys.readouterr()


def test_fix_keeps_an_indent_2_ascii_escaped_notebook_except_one_line():
    """VS Code's layout (indent 2, non-ASCII escaped): a one-character fix is a one-line diff."""
    data = json.loads(notebook("# caf\u00e9\n" + IMPORT, "x = 1.10\n" + TYPO + "y = '\u00e9'\n"))
    data["metadata"] = {"kernelspec": {"language": "python", "name": "python3"}, "big": 12345678901234567890.5}
    text = json.dumps(data, indent=2, ensure_ascii=True)
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert left == []
    before, after = text.splitlines(), fixed.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed == [(changed[0][0], changed[0][0].replace("nit_lora", "init_lora"))]
    assert "\\u00e9" in fixed and "\u00e9" not in fixed


def test_fix_writes_non_ascii_raw_where_the_notebook_does():
    text = notebook(IMPORT, "s = '\u00e9'\n" + TYPO.rstrip("\n") + "  # \u00e9\n")
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert left == [] and fixed == text.replace("nit_lora", "init_lora")


def test_fix_keeps_crlf_line_endings_of_the_fixed_cell():
    text = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                  "source": (IMPORT + TYPO + "x = 1\n").replace("\n", "\r\n")}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    fixed, _ = fix_source(text, filename="nb.ipynb")
    assert fixed == text.replace("nit_lora", "init_lora")


def test_a_fix_that_adds_a_line_inserts_one_list_element():
    cell = IMPORT + "config = LoraConfig(\n    r=32,\n    target_modules=['q_proj'],\n)\n"
    text = notebook("import os\n", cell)
    fixed, _ = fix_source(text, filename="nb.ipynb", unsafe=True)
    assert fixed == text.replace('    "    r=32,\\n",\n', '    "    r=32,\\n",\n    "    lora_alpha=64,\\n",\n')


def test_a_fix_that_removes_a_line_removes_one_list_element():
    cell = IMPORT + "config = LoraConfig(\n    r=8,\n    lora_alpha=16,\n    merge_weights=True,\n)\n"
    text = notebook(cell)
    fixed, _ = fix_source(text, filename="nb.ipynb", settings={"target-peft-version": ">=0.10"})
    assert fixed == text.replace('    "    merge_weights=True,\\n",\n', "")


def test_a_fix_in_the_last_line_without_a_newline():
    text = notebook([IMPORT, TYPO.rstrip("\n")])
    fixed, _ = fix_source(text, filename="nb.ipynb")
    assert fixed == text.replace("nit_lora", "init_lora")


@pytest.mark.parametrize("line", ["# lora-lint: cell boundary", "pass  # lora-lint: magic"])
def test_a_user_line_equal_to_an_internal_marker_does_not_block_the_fix(line):
    """hostile-testing rows 82 and 83: the fix was refused ("crossed a cell boundary")."""
    text = notebook(IMPORT + line + "\n", TYPO, line + "\n")
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert left == [] and fixed == text.replace("nit_lora", "init_lora")


# --- issue 9 item 4: IPython syntax ------------------------------------------------------------

def test_an_indented_time_cell_is_python():
    """``%%time`` runs its body through IPython, which dedents it (and runs `!cmd` lines in it)."""
    text = notebook(IMPORT, "%%time\n    x = 1\n    !nvidia-smi\n    " + TYPO)
    assert found(text) == [("LORA003", 2, 4, 36)]
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert left == [] and fixed == text.replace("nit_lora", "init_lora")


@pytest.mark.parametrize("magic", ["time", "timeit -n1 -r1", "capture out", "prun -q", "debug"])
@pytest.mark.parametrize("blank", [0, 2])  # IPython drops blank rows above the magic
def test_cell_magics_that_run_python_keep_their_body(magic, blank):
    text = notebook(IMPORT, "\n" * blank + f"%%{magic}\n{TYPO}")
    assert found(text) == [("LORA003", 2, 2 + blank, 32)]


@pytest.mark.parametrize("magic", ["bash", "writefile train.py", "html", "sh", "script python", "python3",
                                   "markdown", "javascript", "unknown_magic"])
def test_other_cell_magics_are_not_python(magic):
    body = "    if x then\n  fi\n" + TYPO + "def f(:\n"
    assert found(notebook(IMPORT, f"%%{magic}\n{body}")) == []


@pytest.mark.parametrize("cell", [
    "!pip install \\\n    peft \\\n    trl\n",
    "%pip install \\\n      peft\n",
    "files = !ls \\\n    -la\n",
    "%%time\n!pip install \\\n    peft\n",
    "for i in range(2):\n    !echo hi \\\n  there\n",
    "s = ('%d'\n     % 3)\n",  # `%` starting a continuation line is Python's operator
    "t = '''\n!not a command\n%d'''\n",
    "    x = 1\n    y = (x +\n         2)\n",  # IPython dedents a cell indented as a whole
    "\n\n%%capture\n    import os\n",
    "LoraConfig?\n",
    ",print a b\n",
])
def test_valid_ipython_is_not_a_syntax_error(cell):
    assert found(notebook(IMPORT, cell, TYPO)) == [("LORA003", 3, 1, 32)]


def test_an_indented_cell_reports_columns_of_the_cell_and_fixes_keep_its_indent():
    text = notebook(IMPORT, "    x = 1\n    " + TYPO)
    assert found(text) == [("LORA003", 2, 2, 36)]
    fixed, _ = fix_source(text, filename="nb.ipynb")
    assert fixed == text.replace("nit_lora", "init_lora")


def test_a_cell_that_does_not_parse_does_not_hide_the_others():
    """trl's sft_qwen_vl.ipynb: a missing comma in cell 32 hid the LoraConfig in cell 14."""
    broken = "args = dict(\n    a=1\n    b=2,\n)\n"
    text = notebook(IMPORT, TYPO, "x = (\n", broken, "y = 1\n" + TYPO)
    codes = found(text)
    assert codes[:2] == [("LORA003", 2, 1, 32), ("LORA000", 3, 1, 5)]
    assert codes[2][:2] == ("LORA000", 4) and codes[2][2] in (2, 3)
    assert codes[3:] == [("LORA003", 5, 2, 32)]
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert [v.code for v in left] == ["LORA000", "LORA000"]
    assert cells(fixed) == [c.replace("nit_lora", "init_lora") for c in cells(text)]


def test_a_broken_cell_is_lora000_only_where_lora000_would_be_reported():
    text = notebook(IMPORT, "x = (\n", TYPO)
    assert [c for c, *_ in found(text, settings={"ignore": ["LORA000"]})] == ["LORA003"]
    assert found(notebook("# lora-lint: noqa\n" + IMPORT, "x = (\n", TYPO)) == []
    assert found(notebook("import os\n", "x = (\n")) == []  # no peft: not linted, as a .py file


# --- issue 8 item 16: nbformat 3 and other kernels ------------------------------------------------

def nbformat3(*inputs: str) -> str:
    return json.dumps({"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [
        {"cells": [{"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Title"]}], "metadata": {}},
        {"cells": [{"cell_type": "code", "collapsed": False, "input": text.splitlines(keepends=True),
                    "language": "python", "metadata": {}, "outputs": []} for text in inputs], "metadata": {}},
    ]}, indent=1) + "\n"


def test_nbformat_3_notebooks_are_linted_and_fixed():
    text = nbformat3(IMPORT, "x = 1\n" + TYPO)
    assert found(text) == [("LORA003", 3, 2, 32)]
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert left == [] and fixed == text.replace("nit_lora", "init_lora")


def test_full_output_shows_the_cell_of_an_nbformat_3_notebook(tmp_path, monkeypatch, capsys):
    (tmp_path / "old.ipynb").write_text(nbformat3(IMPORT, "x = 1\n" + TYPO))
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--output-format", "full", "old.ipynb"]) == 1
    assert "  2 | " + TYPO in capsys.readouterr().out


@pytest.mark.parametrize("metadata", [
    {"kernelspec": {"display_name": "R", "language": "R", "name": "ir"}},
    {"language_info": {"name": "R"}},
    {"kernelspec": {"display_name": "Julia 1.10", "language": "julia", "name": "julia-1.10"}},
    {"kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
     "language_info": {"codemirror_mode": "r", "file_extension": ".r", "mimetype": "text/x-r-source", "name": "R",
                       "pygments_lexer": "r"}},
])
def test_notebooks_of_other_languages_are_skipped(metadata):
    r_code = "peft <- function(x) { x + 1 }\n" + TYPO
    assert found(notebook(r_code, metadata=metadata)) == []
    assert fix_source(notebook(r_code, metadata=metadata), filename="nb.ipynb")[1] == []


@pytest.mark.parametrize("metadata", [
    {}, {"kernelspec": {"language": "python", "name": "python3"}, "language_info": {"name": "python"}},
    {"kernelspec": {"display_name": "xpython", "language": "python", "name": "xpython"}},
    {"language_info": {"name": "python3.11"}},
    {"kernelspec": {"language": "python", "name": "pysparkkernel"},
     "language_info": {"name": "pyspark", "mimetype": "text/x-python", "pygments_lexer": "python3"}},
])
def test_python_notebooks_are_linted(metadata):
    assert found(notebook(IMPORT, TYPO, metadata=metadata)) == [("LORA003", 2, 1, 32)]


def test_cells_marked_as_another_language_are_skipped():
    text = json.loads(notebook(IMPORT, "SELECT peft FROM t WHERE x = (\n", TYPO))
    text["cells"][1]["metadata"] = {"vscode": {"languageId": "sql"}}
    assert found(json.dumps(text)) == [("LORA003", 3, 1, 32)]


def test_a_cell_only_libcst_refuses_is_lora000_too(monkeypatch):
    """Where CPython compiles a cell that libcst cannot parse, the engine's LORA000 names the cell."""
    from lint_rules.sources import notebook as nb

    monkeypatch.setattr(nb, "_compile_error", lambda cell: None)
    text = notebook(IMPORT, "x = (\n", TYPO)
    assert found(text) == [("LORA000", 2, 1, 5), ("LORA003", 3, 1, 32)]
    fixed, left = fix_source(text, filename="nb.ipynb")
    assert [v.code for v in left] == ["LORA000"] and fixed == text.replace("nit_lora", "init_lora")


def test_a_file_noqa_in_a_broken_cell_still_counts():
    assert found(notebook(IMPORT, "# lora-lint: noqa\nx = (\n", TYPO)) == []


CELL = IMPORT + "config = LoraConfig(r=32, target_modules=['q_proj'])\n"


@pytest.mark.parametrize("layout", [{}, {"indent": 1}, {"indent": "\t"}, {"separators": (",", ":")}])
def test_a_fix_keeps_any_json_layout(layout):
    """The added keyword changes one element; the separators and indentation stay the file's."""
    data = json.loads(notebook(CELL))
    text = json.dumps(data, **layout)
    fixed, _ = fix_source(text, filename="nb.ipynb", unsafe=True)
    assert fixed == text.replace("r=32,", "r=32, lora_alpha=64,")


def test_a_fix_to_a_one_element_list_and_a_string_source():
    one = notebook([CELL.replace("\n", "; ", 1)])
    fixed, _ = fix_source(one, filename="nb.ipynb", unsafe=True)
    assert fixed == one.replace("r=32,", "r=32, lora_alpha=64,")
    string = json.dumps({"cells": [{"cell_type": "code", "source": CELL}], "nbformat": 4})
    fixed, _ = fix_source(string, filename="nb.ipynb", unsafe=True)
    assert fixed == string.replace("r=32,", "r=32, lora_alpha=64,")


def test_the_last_of_duplicate_source_keys_is_the_one_linted_and_fixed():
    text = ('{"cells": [{"cell_type": "code", "source": "x = 1\\n", "source": ["' + IMPORT.strip() + '\\n", '
            + json.dumps(TYPO) + ']}], "nbformat": 4}')
    fixed, _ = fix_source(text, filename="nb.ipynb")
    assert fixed == text.replace("nit_lora", "init_lora")


@pytest.mark.parametrize("cell", [
    'd = {"a": 1}\nx = f"{d["a"]}"\n',  # unsloth's Gemma3 GRPO notebooks: the f-string's own quotes
    'x = f"{"\\n".join(["a", "b"])}"\n',  # a backslash inside the braces
])
def test_an_f_string_python_3_12_accepts_is_not_a_syntax_error(cell):
    """Python 3.12 (PEP 701; Colab's Python) runs these cells; Python 3.11 rejects them, so
    lora-lint run by 3.11 must not call them broken."""
    assert found(notebook(IMPORT, cell, TYPO)) == [("LORA003", 3, 1, 32)]


@pytest.mark.parametrize(("cell", "row"), [
    ('x = f"{1 +}"\n', 1),
    ('x = f"{y}"\nTrainer(model=model, ...)\n', 2),  # an f-string beside an error of another kind
])
def test_an_f_string_no_python_accepts_is_still_a_syntax_error(cell, row):
    codes = found(notebook(IMPORT, cell, TYPO))
    assert [c[:3] for c in codes] == [("LORA000", 2, row), ("LORA003", 3, 1)]


# --- automagic: a one-line cell that starts with a magic's name runs as that magic ---------------

PIP = "pip install transformers diffusers pillow torch ipython"  # huggingface/notebooks, diffusers/


@pytest.mark.parametrize("cell", [PIP, PIP + "\n", "\n  " + PIP, "cd ..", "ls -la ./outputs", "conda install x",
                                  "time x", "mkdir out", "%%time\n" + PIP, "%%capture\n\n" + PIP])
def test_a_one_line_magic_without_its_percent_is_not_a_syntax_error(cell):
    """Each is a SyntaxError as Python (`cd /content` would not be: it divides names)."""
    assert found(notebook(cell, IMPORT, TYPO)) == [("LORA003", 3, 1, 32)]


@pytest.mark.parametrize("cell", ["pip install x\nimport os\n", "import os\npip install x\n", PIP + "\n\n",
                                  "# install\n" + PIP, "%%debug\n" + PIP])
def test_a_magic_word_in_a_cell_of_more_lines_is_still_a_syntax_error(cell):
    assert [(c, n) for c, n, *_ in found(notebook(cell, IMPORT, TYPO))] == [("LORA000", 1), ("LORA003", 3)]


@pytest.mark.parametrize("cell", ["pip = " + TYPO, "pip, x = " + TYPO.rstrip("\n") + ", 2\n",
                                  "ls =" + TYPO, "time = " + TYPO])
def test_a_one_line_assignment_to_a_magic_name_stays_python(cell):
    assert found(notebook(IMPORT, cell)) == [("LORA003", 2, 1, cell.index("nit_lora") + 1)]


@pytest.mark.parametrize("earlier", ["pip = 3\n", "import pip\n", "from x import y as pip\n", "def pip():\n    pass\n",
                                     "for pip in range(3):\n    pass\n", "pip = !which pip\n"])
def test_a_name_bound_in_an_earlier_cell_shadows_the_magic(earlier):
    text = notebook(IMPORT, earlier, PIP, TYPO)
    assert [(c, n, r, col) for c, n, r, col in found(text)] == [("LORA000", 3, 1, 5), ("LORA003", 4, 1, 32)]


def test_only_what_is_bound_before_the_cell_and_still_bound_shadows():
    assert found(notebook(IMPORT, PIP, "pip = 3\n", TYPO)) == [("LORA003", 4, 1, 32)]
    assert found(notebook(IMPORT, "pip = 3\ndel pip\n", PIP, TYPO)) == [("LORA003", 4, 1, 32)]
    assert found(notebook(IMPORT, "import time\n", "time x", TYPO))[0][:2] == ("LORA000", 3)


def test_the_diffusers_notebook_reports_its_lora_config_and_no_syntax_error(tmp_path, monkeypatch, capsys):
    """huggingface/notebooks' diffusers/*.ipynb: cell 2 is `pip install ...` alone (LORA000 before)."""
    data = json.loads(notebook(PIP, IMPORT, "x = 1\n" + TYPO))
    data["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": ["# EDICT\n"]})
    (tmp_path / "edict.ipynb").write_text(json.dumps(data, indent=1))
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--output-format", "concise", "edict.ipynb"]) == 1
    out = capsys.readouterr().out
    assert "LORA000" not in out
    assert "edict.ipynb:cell 4:2:32: LORA003" in out
