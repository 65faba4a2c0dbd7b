"""lora-lint's 1-based code point locations as LSP positions, in each encoding a client may choose."""
from __future__ import annotations

import pytest

from lint_rules.lsp.positions import UTF8, UTF16, UTF32, Lines, code_points, units
from lint_rules.violation import Location

LINE = 'x = "😀é"; y'  # "😀": 1 code point, 2 UTF-16 units, 4 UTF-8 bytes; "é": 1, 1, 2


@pytest.mark.parametrize("encoding, before_y", [(UTF16, 11), (UTF8, 14), (UTF32, 10)])
def test_a_column_after_non_ascii_text_in_each_encoding(encoding, before_y):
    lines = Lines(f"first\n{LINE}\n", encoding)
    column = LINE.index("y") + 1
    assert lines.position(Location(2, column)) == (1, before_y)
    assert lines.location(1, before_y) == Location(2, column)
    assert units(LINE[:column - 1], encoding) == before_y


def test_a_character_inside_a_surrogate_pair_maps_to_the_character_after_it():
    start = LINE.index("😀")
    assert code_points(LINE, units(LINE[:start]) + 1) == start + 1


@pytest.mark.parametrize("text, end", [("a\nb\n", (2, 0)), ("a\nb", (1, 1)), ("a\r\nb\r", (2, 0)), ("", (0, 0))])
def test_the_end_of_the_text(text, end):
    lines = Lines(text)
    assert lines.position(Location(len(lines.rows) + 1, 1)) == end


def test_lines_end_at_cr_and_crlf_but_not_at_form_feed():
    lines = Lines("a\rb\r\nc\x0cd\n")
    assert lines.position(Location(3, 4)) == (2, 3)
