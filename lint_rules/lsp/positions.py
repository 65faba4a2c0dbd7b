"""Positions between lora-lint (1-based rows, 1-based columns in code points) and LSP (0-based
lines, 0-based characters in the negotiated encoding's code units: UTF-16 unless the client
chose UTF-8 or UTF-32).

Lines end where Python and LSP both end them: at ``\\n``, ``\\r\\n`` or ``\\r``.
"""
from __future__ import annotations

from ..violation import Location, split_rows

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str = UTF16) -> int:
    """The length of ``text`` in the encoding's code units."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)  # astral characters take two UTF-16 units


def code_points(line: str, character: int, encoding: str = UTF16) -> int:
    """The code point index in ``line`` of an LSP ``character`` offset (clamped to the line)."""
    if encoding == UTF32 or line.isascii():
        return min(max(character, 0), len(line))
    count = 0
    for index, ch in enumerate(line):
        if count >= character:
            return index
        count += units(ch, encoding)
    return len(line)


class Lines:
    """A text's lines, for turning locations into LSP positions."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.rows = split_rows(text)
        self.encoding = encoding
        self.final_break = text.endswith(("\n", "\r"))  # LSP then counts an empty last line

    def position(self, location: Location) -> tuple[int, int]:
        """``(line, character)`` of a 1-based location; past the last line, the end of the text."""
        if location.row > len(self.rows):
            if self.final_break or not self.rows:
                return len(self.rows), 0
            return len(self.rows) - 1, units(self.rows[-1], self.encoding)
        row = max(location.row, 1) - 1
        line = self.rows[row]
        column = min(max(location.column - 1, 0), len(line))
        return row, units(line[:column], self.encoding)

    def location(self, line: int, character: int) -> Location:
        """The 1-based location of an LSP position."""
        if line >= len(self.rows):
            return Location(len(self.rows) + 1, 1)
        return Location(line + 1, code_points(self.rows[line], character, self.encoding) + 1)
