"""A long text is parsed piece by piece (``parsing.split``/``parse_pieces``) into the very module
one parse gives, so libcst's peak memory is one piece's work, not the whole file's; and the
positions of a module keep only what the findings need.

Counted, not measured (memory is ``benchmarks/``' business): the longest text handed to libcst,
and the nodes whose ranges are kept.
"""
from __future__ import annotations

import libcst as cst
import pytest

from lint_rules import parsing
from lint_rules.engine import lint_source
from lint_rules.positions import Positions

TRICKY = {
    "comments-between": "import os\n\n# about f\n\n\ndef f():\n    return 1\n    # inside, at the end\n# after f\n\n"
                        "x = 1\n",
    "decorators": "@dec\n@dec2(1)\ndef f():\n    pass\n@dec\nclass A:\n    x = 1\n",
    "clauses": "if a:\n    b = 1\nelif c:\n    b = 2\nelse:\n    b = 3\ntry:\n    d\nexcept E:\n    e\n"
               "finally:\n    f\nfor i in x:\n    g\nelse:\n    h\n",
    "column-0-in-strings": 'x = """\ny = 1\ndef g(): pass\n"""\nz = (\n1,\n)\nw = 1 + \\\n2\n' + "p = 0\n" * 40,
    "tabs": "a = 1\nif a:\n\tb = 2\n\tif b:\n\t\tc = 3\nd = 4\n",
    "crlf": "a = 1\r\n\r\ndef f():\r\n    return 2\r\n# end\r\n",
    "no-trailing-newline": "a = 1\ndef f():\n    return 2",
    "footer": "a = 1\nb = 2\n\n# the end\n\n",
    "header": "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n\"\"\"Doc.\"\"\"\nimport os\nx = 1\n",
    "same-line-bodies": "if a: b\nelse:\n  c\nwhile x: y\nd = 1\n",
    "semicolons": "a = 1; b = 2\nc = 3;\n",
    "match": "match x:\n    case 1:\n        y\n    case _:\n        z\nq = 1\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_pieces_join_into_the_module_one_parse_gives(name, monkeypatch):
    source = TRICKY[name]
    whole = cst.parse_module(source)
    monkeypatch.setattr(parsing, "PIECE", 1)  # cut at every line that may start a statement
    pieces = parsing.split(source)
    assert pieces is not None and len(pieces.cuts) > 1
    joined = parsing.parse_pieces(source, pieces.cuts)
    assert joined.deep_equals(whole)
    for attribute in ("header", "footer"):
        mine, theirs = getattr(joined, attribute), getattr(whole, attribute)
        assert type(mine) is type(theirs) and len(mine) == len(theirs), attribute
        assert all(a.deep_equals(b) for a, b in zip(mine, theirs)), attribute
    for attribute in ("default_indent", "default_newline", "has_trailing_newline", "encoding"):
        assert getattr(joined, attribute) == getattr(whole, attribute), attribute
    assert joined.code == source


def test_text_python_rejects_is_not_split():
    assert parsing.split("x = 1\n" * 20000 + "def f(:\n") is None
    assert parsing.split("\ufeffx = 1\n" + "x = 1\n" * 20000) is None  # CPython refuses a BOM in a str
    assert parsing.split("a = 1\n").cuts == [0]


def _program(functions: int) -> str:
    body = "".join(f"\n\ndef config_{i}():\n    # rank {i}\n    return LoraConfig(r=8, lora_alpha=16,"
                   f" target_module=['c_attn'])\n" for i in range(functions))
    return "from peft import LoraConfig\n" + body


def test_libcst_sees_one_piece_at_a_time_and_the_findings_are_the_same(monkeypatch):
    source = _program(2200)  # about 230 KB
    longest = [0]
    real = cst.parse_module

    def counted(text, *args, **kwargs):
        longest[0] = max(longest[0], len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(cst, "parse_module", counted)
    pieces = lint_source(source)
    assert len(source) > 3 * parsing.PIECE and longest[0] < 2 * parsing.PIECE

    monkeypatch.setattr(parsing, "PIECE", 10 * len(source))  # one piece: the whole text
    longest[0] = 0
    whole = lint_source(source)
    assert longest[0] == len(source)
    assert pieces == whole  # positions, messages and fixes alike
    typos = [v for v in pieces if v.code == "LORA003"]
    assert len(typos) == 2200 and {v.fix.edits[0].content for v in typos} == {"s"}


def test_positions_keep_only_the_paths_to_the_nodes_asked_about():
    source = _program(500)
    module = cst.parse_module(source)
    call = module.body[-1].body.body[0].body[0].value  # the last function's LoraConfig(...)
    keyword = call.args[2]
    every = Positions(module, source)
    few = Positions(module, source, [keyword])
    assert few[keyword] == every[keyword]
    assert few.inclusive(call) == every.inclusive(call)
    assert len(few._inclusive) < len(every._inclusive) / 50


def test_texts_are_parsed_on_one_long_lived_thread_that_a_fork_replaces() -> None:
    """Parses whose stack bound is over the caller's share one parser thread (libcst parses
    more slowly on a fresh thread); a forked child, which has no threads, starts its own."""
    import os
    import threading

    texts = [f"x{i} = f({'(' * 40}1{')' * 40})\n" * 20 for i in range(5)]
    assert all(parsing.CALLER_STACK < parsing.stack_bound(t) <= parsing.PARSER_STACK for t in texts)
    before = {t.ident for t in threading.enumerate()}
    assert [parsing.parse(t).code for t in texts] == texts
    parsers = [t for t in threading.enumerate() if t.name == "lora-lint-parser"]
    assert len(parsers) == 1 and len({t.ident for t in threading.enumerate()} - before) <= 1
    with pytest.raises(cst.ParserSyntaxError):
        parsing.parse(texts[0] + "def (:\n")
    assert parsing.parse(texts[1]).code == texts[1]  # the thread survives a failed parse
    child = os.fork()
    if child == 0:  # the child: parse, exit 0 only when it worked on a thread of its own
        ok = False
        try:
            ok = parsing.parse(texts[2]).code == texts[2] and parsing._parser_thread is not None \
                and parsing._parser_thread.pid == os.getpid()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
