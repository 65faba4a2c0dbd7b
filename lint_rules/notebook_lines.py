"""Where a notebook cell's row is written in the ``.ipynb`` JSON text, for reports that point at
lines of the file itself (GitLab Code Quality; an editor showing the notebook as JSON)."""
from __future__ import annotations

import json

from .errors import FixError
from .notebook_json import locate


def json_line(text: str | None, cell: int, row: int) -> int:
    """The 1-based line of ``text`` holding row ``row`` of cell ``cell`` (nbformat 4, the source
    a list of lines as Jupyter writes it), else the line where the cell's source starts; 1 when
    the text cannot be read that way."""
    if not text:
        return 1
    try:
        spots = locate(text, "source", in_worksheets=False)
    except FixError:
        return 1
    spot = spots[cell - 1] if 0 < cell <= len(spots) else None
    if spot is None:
        return 1
    start = spot.start
    if spot.items:
        seen = 0
        for item_start, item_end in spot.items:
            seen += json.loads(text[item_start:item_end]).count("\n")
            start = item_start
            if seen >= row:
                break
    return text.count("\n", 0, start) + 1
