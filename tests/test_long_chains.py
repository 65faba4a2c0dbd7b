"""Long flat chains (``a and a and ...``, ``1 + 1 + ...``) cost work linear in their length.

Counted, not timed (speed is ``benchmarks/``' business): node visits of the version-check test,
and parses of the text. A 5,000-operand ``and`` chain took 80 s of CPU against 0.7 s to parse it:
each link's left side, the whole chain before it, was walked again. libcst's own parser takes
time quadratic in a chain of binary operators, attributes, calls or subscripts (8,000 ``+``:
68 s); a text with a chain longer than ``parsing.MAX_CHAIN`` is reported and never handed to it.
"""
from __future__ import annotations

import libcst as cst
import pytest

from lint_rules import engine, parsing
from lint_rules.analysis import guards
from lint_rules.ast_walk import longest_chain
from lint_rules.engine import lint_source
from lint_rules.errors import LintError
from lint_rules.parsing import MAX_CHAIN

HEAD = "import peft\nfrom peft import LoraConfig\nNEW = peft.__version__ >= '0.9'\n"


@pytest.fixture
def visits(monkeypatch) -> list[int]:
    """A counter of the nodes the version-check test looks at."""
    count = [0]
    real = guards.subnodes

    def counted(node):
        count[0] += 1
        return real(node)

    monkeypatch.setattr(guards, "subnodes", counted)
    return count


@pytest.mark.parametrize("operator", ["and", "or"])
def test_a_long_boolean_chain_is_walked_a_bounded_number_of_times(visits, operator):
    n = 1000
    lint_source(HEAD + "x = " + f" {operator} ".join(f"a{i}" for i in range(n)) + "\nLoraConfig(r=8)\n")
    assert visits[0] < 10 * n  # each operand's nodes a few times, not once per later link


@pytest.mark.parametrize("chain", [
    "NEW and LoraConfig(use_dora=True)",
    "a and NEW and b and LoraConfig(use_dora=True)",
    "a and b and LoraConfig(use_dora=True)",
    "a and peft.__version__ >= '0.9' and LoraConfig(use_dora=True)",
    "hasattr(x, 'y') and LoraConfig and LoraConfig(use_dora=True)",  # a probe and LoraConfig in two operands
    "hasattr(x, 'y') and z and LoraConfig(use_dora=True)",
    "(NEW and a) and LoraConfig(use_dora=True)",
    "a and (NEW or b) and c and LoraConfig(use_dora=True)",
])
def test_each_link_of_a_chain_is_tested_as_the_whole_left_side_would_be(chain):
    """``chain_tests`` gives, for each link, ``version_test`` of everything before it."""
    module = cst.parse_module(HEAD + f"c = {chain}\n")
    links = [node for node in _walk(module) if isinstance(node, cst.BooleanOperation)
             and isinstance(node.operator, cst.And)]
    links.sort(key=lambda link: -_size(link))  # outermost first
    top = links[0]
    operands = []
    node = top
    while isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And):
        operands.append(node.right)
        node = node.left
    operands.append(node)
    operands.reverse()
    versiony = {"NEW"}.__contains__
    expected = [guards.version_test(_and(operands[:k + 1]), versiony) for k in range(len(operands) - 1)]
    assert guards.chain_tests(operands[:-1], versiony) == expected


def test_a_chain_that_overflows_the_recursion_limit_is_parsed_once(monkeypatch):
    """The analysis runs again with a larger stack (``engine._deep``); the parse is not redone."""
    parses = [0]
    real = parsing.parse

    def counted(source):
        parses[0] += 1
        return real(source)

    monkeypatch.setattr(engine, "parse", counted)
    monkeypatch.setattr(parsing, "parse", counted)  # a text parsed piece by piece (``parse_pieces``)
    source = "from peft import LoraConfig\nLoraConfig(r=" + " + ".join(["1"] * 990) + ", lora_alpha=16)\n"
    lint_source(source)
    assert parses[0] == 1


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


def _size(node: cst.CSTNode) -> int:
    return sum(1 for _ in _walk(node))


def _and(operands: list[cst.BaseExpression]) -> cst.BaseExpression:
    expr = operands[0]
    for operand in operands[1:]:
        expr = cst.BooleanOperation(expr, cst.And(), operand)
    return expr


def test_valid_python_libcst_cannot_parse_is_not_linted_rather_than_a_syntax_error(tmp_path, monkeypatch, capsys):
    """libcst's parser gives up on about 4,000 implicitly concatenated strings; Python does not.
    It was reported as LORA000, a syntax error in valid code."""
    from cli_run import lint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "a.py").write_text("from peft import LoraConfig\nLoraConfig(r=8, lora_alpha=16)\n"
                                   "x = (" + " ".join(["'s'"] * 4000) + ")\n")
    compile((tmp_path / "a.py").read_text(), "a.py", "exec")
    code, out, err = lint(capsys, "a.py")
    assert (code, out) == (2, "")
    assert err.startswith("error: a.py: not linted: Python parses it but libcst cannot (")


@pytest.mark.parametrize(("make", "links"), [
    (lambda n: " + ".join(["1"] * (n + 1)), 1),
    (lambda n: " - ".join(f"a{i}" for i in range(n + 1)), 1),
    (lambda n: " ** ".join(["2"] * (n + 1)), 1),  # right-associative
    (lambda n: "x" + ".y" * n, 1),
    (lambda n: "f" + "()" * n, 1),
    (lambda n: "x" + "[0]" * n, 1),
    (lambda n: "x" + ".y()" * (n // 2), 1),  # an attribute and a call per link
    (lambda n: " and ".join(["a"] * (n + 1)), 0),  # a flat list for libcst's parser too
    (lambda n: " < ".join(["a"] * (n + 1)), 0),
])
def test_longest_chain_counts_what_libcsts_parser_recurses_on(make, links):
    import ast

    n = 400
    assert longest_chain(ast.parse("v = " + make(n) + "\nw = 1 + 2\n")) == max(n * links, 1)  # w: one link


@pytest.mark.parametrize("chain", [" + ".join(["1"] * 3001), "x" + "[0]" * 3000, "f" + "()" * 3000])
def test_a_chain_longer_than_libcst_is_given_is_reported_not_parsed(monkeypatch, chain):
    """3,000 subscripts took libcst 33 s to parse (8,000 ``+``: 68 s): the time is the square of
    the length, so a file is refused past ``MAX_CHAIN`` links, with a message, like any text
    libcst cannot parse."""
    parses = [0]
    real = cst.parse_module

    def counted(text, *args, **kwargs):
        parses[0] += 1
        return real(text, *args, **kwargs)

    monkeypatch.setattr(cst, "parse_module", counted)
    with pytest.raises(LintError, match=f"^a.py: not linted: an expression chains 3,000 operations .*"
                                        f"quadratic .* not given more than {MAX_CHAIN:,}$"):
        lint_source(HEAD + "x = " + chain + "\nLoraConfig(r=8)\n", filename="a.py")
    assert parses[0] == 0
    assert lint_source(HEAD + "x = " + chain + "\n", filename="a.py") == []  # no trigger: never parsed


def test_the_refused_file_is_an_error_line_and_the_others_are_linted(tmp_path, monkeypatch, capsys):
    from cli_run import lint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "a.py").write_text(HEAD + "x = " + " + ".join(["1"] * 2001) + "\nLoraConfig(r=8)\n")
    (tmp_path / "b.py").write_text("from peft import LoraConfig\n"
                                   "LoraConfig(r=8, lora_alpha=16, nit_lora_weights=True)\n")
    code, out, err = lint(capsys, ".")
    assert code == 2 and "b.py:2:" in out and "LORA003" in out
    assert err.startswith("error: a.py: not linted: an expression chains 2,000 operations")
