"""IPython's automagic: a cell that IPython's transform leaves as one line, whose first word is a
line magic or shell alias, runs as that magic (``pip install x`` as ``%pip install x``).

Each expectation below is what IPython 9.18 in an ipykernel 7.4 shell decided for that cell
(``shell.transform_cell``, and for a cell magic's body the transform the magic runs on it),
recorded when this was written: ``True`` where the cell's row ran as a magic.
"""
from __future__ import annotations

import builtins
import keyword

import pytest

from lint_rules.ipython import ALIASES, LINE_MAGICS, python_rows
from lint_rules.violation import split_rows

IPYTHON_RAN_A_MAGIC = [
    ("pip install transformers diffusers pillow torch ipython", True),  # huggingface/notebooks, diffusers/
    ("pip install x\n", True),
    ("\n\n  pip install x", True),  # leading blank rows dropped, the one line dedented
    ("\tpip install x", True),
    ("pip install x\r\n", True),
    ("cd ..", True),
    ("ls -la", True),
    ("ls", True),
    ("ls *.py", True),
    ("conda install x", True),
    ("time x", True),
    ("pwd", True),
    ("mkdir out", True),
    ("pip install x # c", True),
    ("pip install x \\", True),
    ("pip (1)", True),  # AutoMagicChecker comes before PythonOpsChecker
    ("pip+1", True),
    ("ls -l, x", True),
    ("pip: int = 1", True),
    ("%%time\npip install x", True),  # %%time, %%timeit, %%capture, %%prun transform their body
    ("%%capture\n\npip install x", True),
    ("%%timeit -n1\n  pip install x", True),
    ("%%prun -q\npip install x", True),
    # not a magic: the rest is an assignment (AssignmentChecker)
    ("pip = 3", False),
    ("pip =3", False),
    ("pip == 3", False),
    ("pip, x = 1, 2", False),
    ("ls ,x", False),
    # not a magic: the first word is not a magic's name
    ("pip.main(['install', 'x'])", False),
    ("time.sleep(1)", False),
    ("ls.x = 3", False),
    ("ls*.py", False),
    ("pipinstall x", False),
    ("print(1)", False),
    # not one line: the prefilter never runs
    ("pip install x\n\n", False),
    ("pip install x\n  ", False),
    ("# c\npip install x", False),
    ("pip install x\n# c", False),
    ("pip install x\r\n\r\n", False),
    ("ls\x0c", False),  # str.splitlines ends a line at a form feed
    ("ls\\\n -la", False),
    ("%%time\npip install x\n\n", False),
    ("%%debug\npip install x", False),  # %%debug hands its body to pdb untransformed
    ("\u00a0pip install x", False),  # the no-break space stays in front of the call: a SyntaxError
]


def ran_as_magic(cell: str) -> bool:
    """Is the cell's last row IPython syntax only because of automagic?"""
    rows = split_rows(cell)
    return python_rows(rows) != python_rows(rows, lambda name: True)


@pytest.mark.parametrize(("cell", "magic"), IPYTHON_RAN_A_MAGIC)
def test_a_one_line_cell_runs_as_a_magic_exactly_where_ipython_runs_it(cell, magic):
    assert ran_as_magic(cell) is magic


def test_the_magic_row_is_a_pass_stand_in_at_the_cells_indentation():
    rows = python_rows(split_rows("\n    pip install peft"))
    assert [(r.text, r.prefix, r.python) for r in rows] == [("", "", True), ("pass", "    ", False)]


def test_a_name_bound_before_the_cell_shadows_only_its_own_magic():
    bound = {"pip"}.__contains__
    assert python_rows(["pip install x"], bound)[0].python
    assert not python_rows(["ls -la"], bound)[0].python


def test_a_multi_line_cell_never_gets_automagic():
    rows = python_rows(split_rows("pip install x\nimport os\n"))
    assert [r.python for r in rows] == [True, True]


def test_no_magic_name_is_a_builtin_or_a_keyword():
    """IPython's ``is_shadowed`` lets a builtin or keyword hide a magic: none of these is one."""
    assert not {n for n in LINE_MAGICS | ALIASES if n in vars(builtins) or keyword.iskeyword(n)}


def test_an_escaped_assignment_records_its_target():
    rows = python_rows(["files = !ls", "!echo a=b", "out = %env", "x = y?"])
    assert [r.target for r in rows] == ["files", "", "out", ""]
