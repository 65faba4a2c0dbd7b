"""Node positions from one offset-recording pass equal libcst's ``PositionProvider``."""
from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider, WhitespaceInclusivePositionProvider

from lint_rules.positions import LineIndex, Positions

HERE = Path(__file__).parent
SOURCES = {
    "corpus-" + path.name: path.read_text() for path in sorted((HERE / "data" / "corpus").glob("*.py"))
}
SOURCES.update({
    "this-file": Path(__file__).read_text(),
    "crlf": "import peft\r\n\r\nclass A:\r\n    @dec(peft.LoraConfig(\r\n        r=8))\r\n    def f(self):\r\n"
            "        return 1\r\n",
    "cr-only": "import peft\r\rdef f():\r    x = peft.LoraConfig(r=8,\r        lora_alpha=16)\r    return x\r",
    "tabs-and-form-feed": "import peft\n\x0c\nif x:\n\tc = peft.LoraConfig(\n\t\tr=4,  # rank\n\t)\n",
    "no-trailing-newline": "from peft import LoraConfig\nLoraConfig(r=8)",
    "strings": 'x = """a\nb\rc"""\ny = f"{x!r:>{10}}" \\\n    "tail"\n',
    "semicolons-and-comments": "# head\n\na = 1; b = [\n  1,  # one\n  2]\n\n# tail\n",
})


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_node_has_libcsts_position(name):
    source = SOURCES[name]
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected = wrapper.resolve(PositionProvider)
    inclusive = wrapper.resolve(WhitespaceInclusivePositionProvider)
    positions = Positions(module, source)
    lines = LineIndex(source)
    last = lines.location(len(source))
    compared = 0
    for node, where in expected.items():
        if isinstance(node, cst.Module):
            continue  # libcst writes a CR-only module back without its final line break
        # a module whose last line has no line break: libcst counts the one it drops when writing
        # the code back, past the end of the source; ours end where the source does
        if (where.end.line, where.end.column + 1) <= (last.row, last.column):
            assert positions[node] == where, (type(node).__name__, where)
            compared += 1
    for node, where in inclusive.items():
        if isinstance(node, cst.Module):
            continue
        start, end = positions.inclusive(node)
        assert (lines.location(start).row, lines.location(start).column - 1) == (where.start.line, where.start.column)
        if (where.end.line, where.end.column + 1) <= (last.row, last.column):
            assert (lines.location(end).row, lines.location(end).column - 1) == (where.end.line, where.end.column)
    assert compared >= len(expected) - 3


def test_rows_end_where_python_ends_them():
    lines = LineIndex("a\rb\r\nc\nd")
    assert [tuple(vars(lines.location(i)).values()) for i in (0, 2, 5, 7)] == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert lines.offset(3) == 5 and lines.offset(5) is None
