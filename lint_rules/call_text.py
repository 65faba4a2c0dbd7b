"""Whether a text may call a name, read from its characters before CPython compiles it.

The prefilter's scan (``prefilter.Scan``) counts a name as called where CPython's tree has it as
a callee or an attribute in a callee's chain (``LoraConfig(...)``, ``(LoraConfig)(...)``,
``peft.LoraConfig(...)``, ``PeftModel.from_pretrained(...)``), as a call's keyword
(``peft_config=``) or imported under an alias (``LoraConfig as LC``). In the text, each of these
is the name as a whole identifier followed, past spaces, line breaks, backslashes, comments and
closing brackets, by ``(``, ``.``, ``=`` or ``as``. Where no occurrence of a name looks like that,
the scan cannot count it, and the engine only needs to know that the text compiles.

Occurrences that cannot be such code are not counted:

- the name of a ``def`` or ``class`` (followed by ``(``);
- a name followed by ``(`` and then a backtick (a docstring's ``add_adapter (`bool`)``): no code
  has a backtick there;
- ``.name =``: an attribute assignment (a keyword is never dotted);
- a name on a line that starts with ``>>>`` (a doctest: no line of code starts with ``>>>``, so the
  line starts inside a string) with no quote or ``{`` before it on that line (which could end
  the string or open an f-string's expression).

CPython reads identifiers in NFKC form (``ＬoraConfig`` is ``LoraConfig``): a text that is not
ASCII is normalised first. Identifier characters beyond ASCII count as boundaries, which can only
let more occurrences through.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
# what may stand between two tokens of code: spaces, line breaks, continuations, whole comments
# (the lookahead keeps a comment from ending before its line does), and closing brackets
_GAP = r"(?:[ \t\f\v\r\n\\)]|#[^\r\n]*(?![^\r\n]))*"
_AFTER = re.compile(rf"{_GAP}(?:(?P<open>\()|(?P<dot>\.)|(?P<keyword>=(?!=))|(?P<alias>as(?![A-Za-z0-9_])))")
_BACKTICK = re.compile(r"[ \t]*`")
_PROMPT = re.compile(r"[ \t]*>>>")  # a doctest line's start
_PROMPT_END = re.compile(r"['\"{\r\n]")  # where a quote or brace might leave the string (or the line ends)
_DEFINES = ("def", "class")
# a keyword's value that may be a name or ``True``: brackets, spaces and comments, then an identifier
_NAME_VALUE = re.compile(r"(?:[ \t\f\v\r\n\\(]|#[^\r\n]*(?![^\r\n]))*(?:[A-Za-z_]|[^\x00-\x7f])")


def normalized(text: str) -> str:
    """The text with identifiers as CPython reads them (NFKC, for a text that is not ASCII)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


_USES = {"open": "called", "dot": "called", "keyword": "passed", "alias": "aliased"}


def kinds(text: str, name: str) -> set[str]:
    """How ``name`` may be used in ``text`` (``normalized``): ``called`` (a callee or an attribute of
    a callee's chain), ``passed`` (a call's keyword) and ``aliased`` (imported as another name)."""
    return {_USES[kind] for kind, _, _ in _occurrences(text, name)}


def loads(text: str, keywords: Iterable[str], not_models: Iterable[str]) -> bool:
    """Whether ``text`` may call ``X.from_pretrained(...)``, where ``X`` is not named by a word of
    ``not_models`` and passes one of ``keywords`` as a name or ``True``, after it."""
    not_models = tuple(not_models)
    first = next((start for kind, start, _ in _occurrences(text, "from_pretrained")
                  if kind == "open" and not _receiver_is(text, start - 1, not_models)), None)
    if first is None:
        return False
    return any(kind == "keyword" and start > first and _NAME_VALUE.match(text, end)
               for keyword in keywords for kind, start, end in _occurrences(text, keyword))


def _occurrences(text: str, name: str) -> Iterable[tuple[str, int, int]]:
    """``(kind, start, end)`` for each occurrence of ``name`` (at ``start``) as a whole identifier
    that may be code of the kind (``open``, ``dot``, ``keyword``, ``alias``) of what follows it,
    which ends at ``end``."""
    lines = _Lines(text)
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if (start == 0 or text[start - 1] not in _WORD) and (end == len(text) or text[end] not in _WORD):
            after = _AFTER.match(text, end)
            if after is not None and not _not_code(text, start, after) and not lines.in_prompt(start):
                yield after.lastgroup or "", start, after.end()
        start = text.find(name, end)


def _not_code(text: str, start: int, after: re.Match[str]) -> bool:
    """Whether the occurrence at ``start``, followed by ``after``, cannot be such code (a
    doctest line aside)."""
    kind = after.lastgroup
    if kind == "open" and (_defined(text, start) or _BACKTICK.match(text, after.end())):
        return True
    return kind == "keyword" and start > 0 and text[start - 1] == "."


class _Lines:
    """Which offsets lie on a doctest line, asked in increasing order: each stretch of the text is
    searched for line breaks once (a text of one long line, asked about each of many names on
    it, would otherwise be read once per name)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.searched = 0  # line breaks before this offset are known
        self.prompt = self._prompt(0)

    def in_prompt(self, at: int) -> bool:
        """Whether ``at`` follows ``>>>`` at the start of its line with no quote or ``{`` between."""
        text = self.text
        last = max(text.rfind("\n", self.searched, at), text.rfind("\r", self.searched, at))
        self.searched = at
        if last >= 0:
            self.prompt = self._prompt(last + 1)
        return self.prompt is not None and self.prompt[0] <= at < self.prompt[1]

    def _prompt(self, line: int) -> tuple[int, int] | None:
        """Where the line starting at ``line`` may hold a doctest's names, if it starts with ``>>>``."""
        start = _PROMPT.match(self.text, line)
        if start is None:
            return None
        stop = _PROMPT_END.search(self.text, start.end())
        return start.end(), stop.start() if stop is not None else len(self.text)


def _defined(text: str, start: int) -> bool:
    """Whether the identifier at ``start`` follows ``def`` or ``class`` and spaces."""
    gap = start
    while gap and text[gap - 1] in " \t":
        gap -= 1
    if gap == start:
        return False
    for word in _DEFINES:
        begin = gap - len(word)
        if begin >= 0 and text.startswith(word, begin) and (
                begin == 0 or (text[begin - 1] not in _WORD and text[begin - 1].isascii())):
            return True
    return False


def _receiver_is(text: str, dot: int, words: tuple[str, ...]) -> bool:
    """Whether the identifier ending at ``dot`` (``X`` of ``X.from_pretrained``) holds one of ``words``."""
    if dot < 0 or text[dot:dot + 1] != ".":
        return False
    begin = dot
    while begin and text[begin - 1] in _WORD:
        begin -= 1
    return any(word in text[begin:dot] for word in words)
