"""IPython's input syntax: which rows of a notebook cell are Python, as Jupyter runs the cell.

IPython (``IPython.core.inputtransformer2``) drops leading blank lines, dedents a cell indented
as a whole (``textwrap.dedent``), runs a ``%%magic`` first line as a cell magic, and turns
escaped lines (``!cmd``, ``%magic``, ``?obj``, ``obj?``, ``,f a``, ``;f a``, ``/f a``, and
``x = !cmd`` / ``x = %magic``) at the start of a logical line into calls; such a line goes on
over the following lines while it ends with a backslash. The cell magics that run their body as
Python in the kernel (``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``, ``%%debug``) hand it
through the same rules; the body of any other cell magic (``%%bash``, ``%%writefile``,
``%%html``, ``%%python3`` in a subprocess, ...) is not the notebook's Python.

Automagic (``InteractiveShell.transform_cell``, then ``IPython.core.prefilter``): when the
transformed cell (or the body that ``%%time``, ``%%timeit``, ``%%capture`` or ``%%prun`` transforms
on its own) is a single line, IPython splits it into a first word and the rest
(``splitinput.split_user_input``); unless the rest starts with ``=`` or ``,`` (an assignment), a
first word that names a line magic or shell alias (``pip``, ``cd``, ``ls``, ``time``, ...) runs
that magic, as ``%pip install x`` would, unless a name the user bound before the cell shadows it.

IPython itself is not needed: this module follows its transforms on the text.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
# the cell magics whose body IPython transforms (``shell.transform_cell``) before running it:
# %%debug hands its body to pdb as it is
_TRANSFORMED_CELL_MAGICS = PYTHON_CELL_MAGICS - {"debug"}
# The line magics of a Jupyter kernel (IPython 9.18 with ipykernel 7.4 and the storemagic
# extension it loads: ``magics_manager.magics["line"]``); none is a builtin or a keyword, which
# would shadow it.
LINE_MAGICS = frozenset("""
    alias alias_magic autoawait autocall automagic autosave bookmark cd clear code_wrap colors
    conda config connect_info debug dhist dirs doctest_mode ed edit env gui hist history
    killbgscripts less load load_ext loadpy logoff logon logstart logstate logstop lsmagic macro
    magic mamba man matplotlib micromamba more notebook page pastebin pdb pdef pdoc pfile pinfo
    pinfo2 pip popd pprint precision prun psearch psource pushd pwd pycat pylab qtconsole quickref
    recall rehashx reload_ext rep rerun reset reset_selective run save sc set_env store subshell
    sx system tb time timeit unalias unload_ext uv who who_ls whos xdel xmode
""".split())
# IPython's default shell aliases (``alias.default_aliases``), registered as line magics: those
# of posix and those of Windows (ddir echo ren copy), as either may be where the notebook runs
ALIASES = frozenset("mkdir rmdir mv rm cp cat ls ll lf lk ldir lx ddir echo ren copy".split())
# ``splitinput.line_split``: leading space, an escape, the first word (``ifun``), the rest
_LINE_SPLIT = re.compile(r"(\s*)([,;/%]|!!?|\?\??)?\s*(%{0,2}[\w.*]*)(.*?$|$)")
_ESCAPES = ("!", "%", "?", ",", ";", "/")
_INDENT = re.compile(r"[ \t]*")
_CELL_MAGIC = re.compile(r"%%(\w*)")
_MAGIC_NAME = re.compile(r"%\w")
_NOT_ASSIGN_BEFORE = "=!<>+-*/%&|^@:~"


@dataclass(frozen=True)
class Row:
    """One row of a cell as Python sees it.

    ``text`` is the row without ``prefix`` (indentation IPython removes); for IPython syntax
    (``python`` false) it is a stand-in that keeps the Python around it valid: ``pass`` at the
    row's indentation for an escaped line or an automagic one, an empty row otherwise.
    """

    text: str
    prefix: str = ""
    python: bool = True
    target: str = ""  # what ``x = !cmd`` / ``x = %magic`` assigns the output to (``x``)


def python_rows(rows: list[str], shadowed: Callable[[str], bool] = lambda name: False) -> list[Row]:
    """One ``Row`` per row of the cell (rows without their line endings); ``shadowed(name)``:
    does a name the user bound before this cell hide the magic of that name?"""
    out = [Row(row if row.strip(" \t") else "") for row in rows]
    prefixes = [""] * len(rows)
    texts = list(rows)
    start = first = 0  # first: where the text IPython transforms as a whole starts
    transformed = True
    while True:
        start = next((i for i in range(start, len(texts)) if texts[i].strip(" \t")), len(texts))
        if start == len(texts):
            return out
        _dedent(texts, prefixes, start)
        magic = _CELL_MAGIC.match(texts[start])
        if magic is None or texts[start].startswith("?", magic.end()):
            break
        out[start] = Row("", prefixes[start], python=False)
        if magic.group(1) not in PYTHON_CELL_MAGICS:
            for i in range(start + 1, len(rows)):
                out[i] = Row("", prefixes[i], python=False)
            return out
        transformed = magic.group(1) in _TRANSFORMED_CELL_MAGICS
        start += 1
        first = start
    _scan(texts, prefixes, start, out)
    line = _single_line(rows, first)
    if transformed and line is not None and out[line].python and _automagic(texts[line], shadowed):
        out[line] = Row("pass", prefixes[line], python=False)
    return out


def _single_line(rows: list[str], first: int) -> int | None:
    """The row of ``rows[first:]`` that IPython's transform leaves as the only line, if it
    leaves one: it drops leading blank lines, and ``str.splitlines`` counts what is left."""
    filled = [i for i in range(first, len(rows)) if rows[i] and not rows[i].isspace()]
    if filled == [len(rows) - 1] and len((rows[-1] + "\n").splitlines()) == 1:
        return filled[0]
    return None


def _automagic(line: str, shadowed: Callable[[str], bool]) -> bool:
    """Does IPython's prefilter run this one-line cell (dedented) as a line magic?"""
    pre, escape, word, rest = _LINE_SPLIT.match(line).groups()
    word, rest = word.strip(), rest.lstrip()
    if pre or escape or rest[:1] in ("=", ","):
        # space that is not indentation stays in front of the magic call (a SyntaxError there too);
        # an escape is handled before; `ls = 1`, `ls, x = 1, 2` are assignments (AssignmentChecker)
        return False
    return (word in LINE_MAGICS or word in ALIASES) and not shadowed(word)


def _dedent(texts: list[str], prefixes: list[str], start: int) -> None:
    """``textwrap.dedent`` of ``texts[start:]``: the common indentation of the rows that are not
    blank is removed (and added to their ``prefixes``); blank rows become empty."""
    indents = [_INDENT.match(t).group() for t in texts[start:] if t.strip(" \t")]
    margin = os.path.commonprefix(indents) if indents else ""
    for i in range(start, len(texts)):
        if not texts[i].strip(" \t"):
            texts[i] = ""
        elif margin:
            texts[i] = texts[i][len(margin):]
            prefixes[i] += margin


def _scan(texts: list[str], prefixes: list[str], start: int, out: list[Row]) -> None:
    """Mark escaped lines among ``texts[start:]``, following Python's logical lines."""
    state = _State()
    i = start
    while i < len(texts):
        text = texts[i]
        target = _escaped(text) if state.at_start else None
        if target is not None:
            indent = _INDENT.match(text).group()
            out[i] = Row(indent + "pass", prefixes[i], python=False, target=target)
            while texts[i].endswith("\\") and i + 1 < len(texts):
                i += 1
                out[i] = Row("", prefixes[i], python=False)
        else:
            out[i] = Row(text, prefixes[i])
            state.advance(text)
        i += 1


def _escaped(text: str) -> str | None:
    """``None`` for a row that is Python at the start of a logical line; for IPython syntax, what
    ``x = !cmd`` or ``x = %magic`` assigns the output to (``x``), ``""`` for any other escape."""
    stripped = text.lstrip(" \t")
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith(_ESCAPES):
        return ""
    probe = _State()
    probe.advance(text)
    if probe.assign is not None:
        rest = text[probe.assign + 1:].lstrip(" \t")
        if rest.startswith("!") or _MAGIC_NAME.match(rest):
            return text[:probe.assign].strip()
    return "" if probe.at_start and probe.last == "?" else None


class _State:
    """Where Python's tokenizer stands after some rows: open brackets, an open string, a
    backslash continuation. Only what telling logical lines apart needs."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None
        self.continued = False
        self.assign: int | None = None  # the first `=` of the last row at bracket depth 0
        self.last = ""  # the last code character of the last row (comments and strings aside)

    @property
    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def advance(self, text: str) -> None:
        i, n = 0, len(text)
        self.assign, self.last, comment = None, "", False
        while i < n:
            c = text[i]
            if self.quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if text.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote, self.last = None, "'"
                    continue
                i += 1
                continue
            if c == "#":
                comment = True
                break
            if c in "\"'":
                self.quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
                i += len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif (c == "=" and self.depth == 0 and self.assign is None and text[i + 1:i + 2] != "="
                  and (i == 0 or text[i - 1] not in _NOT_ASSIGN_BEFORE)):
                self.assign = i
            if not c.isspace():
                self.last = c
            i += 1
        self.continued = not comment and text.endswith("\\") and self.quote is None
        if self.quote in ("'", '"') and not text.endswith("\\"):
            self.quote = None  # an unterminated one-line string: a syntax error Python reports
