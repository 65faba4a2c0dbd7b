"""The names earlier notebook cells bind, which shadow a magic of that name.

Each expectation is whether ``pip`` was in an IPython 9.18 shell's ``user_ns`` after running the
cell (recorded when this was written); the cases a static reading cannot follow are listed
apart, with the side it errs on.
"""
from __future__ import annotations

import pytest

from lint_rules import notebook_bindings
from lint_rules.ipython import python_rows
from lint_rules.notebook_bindings import Bindings
from lint_rules.violation import split_rows

IPYTHON_BOUND_PIP = [
    ("pip = 3", True),
    ("pip, q = 1, 2", True),
    ("[pip, q] = 1, 2", True),
    ("x = 1\npip = 2", True),
    ("  pip = 1", True),
    ("if True:\n    pip = 1", True),
    ("import os as pip", True),
    ("from os import path as pip", True),
    ("def pip(): pass", True),
    ("class pip: pass", True),
    ("for pip in range(2): pass", True),
    ("with open('/dev/null') as pip: pass", True),
    ("(pip := 1)", True),
    ("[(pip := i) for i in range(2)]", True),
    ("match 1:\n case pip: pass", True),
    ("match [1]:\n case [*pip]: pass", True),
    ("match {}:\n case {**pip}: pass", True),
    ("pip = !echo", True),
    ("pip = %pwd", True),
    ("for i in range(1):\n    pip = !echo", True),
    ("%%time\npip = 1", True),
    ("pip = 1; del pip; pip = 2", True),
    ("pip: int", False),  # an annotation binds nothing
    ("pip: int = 1", False),  # a one-line cell: IPython ran `%pip : int = 1`
    ("pip += 1", False),  # the same: `%pip += 1`
    ("pip = 1\ndel pip", False),
    ("try:\n 1/0\nexcept Exception as pip:\n pass", False),
    ("x = [pip for pip in range(3)]", False),
    ("def f():\n global pip\n pip = 1", False),
    ("lambda pip: 1", False),
    ("pip.x = 1", False),
    ("import pip_tools_x", False),
    ("x = (\n", False),  # does not compile: the cell never ran
]


def bound_after(*cells: str, name: str = "pip") -> bool:
    bindings = Bindings()
    for cell in cells:
        bindings.add(python_rows(split_rows(cell), bindings.bound))
    return bindings.bound(name)


@pytest.mark.parametrize(("cell", "bound"), IPYTHON_BOUND_PIP)
def test_a_cell_binds_a_name_where_ipython_binds_it(cell, bound):
    assert bound_after(cell) is bound


def test_the_last_cell_to_bind_or_unbind_decides():
    assert bound_after("pip = 1", "x = 2") is True
    assert bound_after("pip = 1", "del pip") is False
    assert bound_after("pip = 1", "del pip", "import pip") is True


def test_a_cell_is_parsed_only_when_it_mentions_the_name(monkeypatch):
    parsed = []
    effects = notebook_bindings._effects
    monkeypatch.setattr(notebook_bindings, "_effects", lambda rows: parsed.append(rows) or effects(rows))
    assert bound_after("x = 1", "import os as ls", name="ls") is True
    assert [[r.text for r in rows] for rows in parsed] == [["import os as ls"]]


def test_a_star_import_is_not_counted_and_a_binding_under_a_condition_is():
    """What a star import binds is not in the text: the magic is assumed, which can hide a syntax
    error but never report one. A binding statement counts wherever it is, as a `for` target does
    though the loop may not run: the notebook binds the name where its code says so."""
    assert bound_after("from os import *") is False
    assert bound_after("if False:\n    pip = 1") is True
