"""Parsing with libcst without crashing the process.

libcst's native parser recurses on the calling thread's stack once per nesting level, and also
once per term of some flat chains (``a and b and ...``, ``elif`` chains, ``x.y.z...``,
``1 + 1 + ...``). Overflowing that stack is a segfault, not an exception: about 1,500 nested
brackets on an 8 MB stack. So:

- ``stack_bound`` is an upper bound on the stack the parser can need, from character counts
  (every bracket, operator and keyword counted as if it nested; brackets inside strings can
  only raise it, so no text can fool it), and ``parse`` runs the parser on a thread whose stack
  is that large (virtual memory: only what the parser touches is used): one long-lived thread
  for the bounds of ordinary files, a thread of its own for a larger one.
- ``nesting_error`` is CPython's verdict on text that may nest deeper than Python accepts (more
  than 200 brackets; a chain of unary operators or lambdas its parser gives up on), reported as
  LORA000 instead of being handed to libcst. Python's own parser is protected against deep
  input, and costs about a tenth of libcst's: it is asked only about text whose bracket depth
  or stack bound is high.
- ``split`` cuts a long text into pieces of whole top-level statements (about ``PIECE``
  characters each) that CPython parses on their own, and ``parse_pieces`` parses them one at a
  time and joins them into the module ``parse`` would give. libcst's parser needs several
  hundred bytes of memory per source byte while it runs but keeps about forty in the tree: one
  piece at a time, the peak is the tree plus one piece's work, not the whole file's.
- ``longest_chain`` measures, on CPython's tree, the chains of binary operators, attributes,
  calls and subscripts on which libcst's parser takes time quadratic in the length; the engine
  does not hand it a text with one longer than ``MAX_CHAIN``.
"""
from __future__ import annotations

import ast
import bisect
import os
import queue
import re
import symtable
import sys
import threading
import warnings
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Callable, TypeVar

import libcst as cst

from .ast_walk import longest_chain

KB, MB = 1 << 10, 1 << 20
# measured on libcst 1.9 (bytes of native stack per level), doubled: brackets 5-8 KB, a lambda
# with a default 14 KB, a term of an operator, boolean, comparison, elif, attribute or implicit
# string concatenation chain 1-1.5 KB (each quote counts)
_PER_BRACKET = 16 * KB
_PER_LAMBDA = 32 * KB
_PER_TERM = 3 * KB
_CHARS = "([{"
_TERMS = "-+~*/%@|&^<>.=\"'"
_WORDS = ("not", "and", "or", "if", "else")
_BASE = 1 * MB
CALLER_STACK = 1 * MB  # below this bound the parser runs on the calling thread
PARSER_STACK = 256 * MB  # up to this bound, on the long-lived parser thread (virtual: only what is touched is used)
MAX_STACK = 1 << 30  # above it, only text that Python itself parses is handed to libcst
DEPTH_TO_ASK_PYTHON = 100  # Python refuses more than 200 nested brackets
STACK_TO_ASK_PYTHON = 64 * MB  # large files and long chains (4,000 brackets, 20,000 terms)
_DEPTH = {c: 1 for c in "([{"} | {c: -1 for c in ")]}"}
_NOT_BRACKET = re.compile(r"[^()\[\]{}]+")
_BRACKET = re.compile(r"[()\[\]{}]")
_NESTING_MESSAGES = ("too many nested", "too many levels", "too complex", "too deeply")

PIECE = 64 * KB
DEEP_STACK, DEEP_RECURSION = 512 * MB, 200_000  # where a text too deep for the defaults is read again
MAX_CHAIN = 1000  # operations chained in one expression (``longest_chain``): more is not parsed
# a line that may start a top-level statement: not indented, blank, a comment, a closing bracket,
# a continued line or a clause of the statement before (a cut anywhere else is rejected by CPython)
_STATEMENT_START = re.compile(r"^(?![\s#)\]}\\]|(?:else|elif|except|finally)\b)", re.M)
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)

_T = TypeVar("_T")
_stack_lock = threading.Lock()
_parser_lock = threading.Lock()


def stack_bound(source: str) -> int:
    """Bytes of native stack that parsing ``source`` can need, at most."""
    brackets = sum(source.count(c) for c in _CHARS)
    lambdas = source.count("lambda")
    terms = sum(source.count(c) for c in _TERMS) + sum(source.count(w) for w in _WORDS)
    return _BASE + brackets * _PER_BRACKET + lambdas * _PER_LAMBDA + terms * _PER_TERM


def parse(source: str) -> cst.Module:
    """``libcst.parse_module`` on a stack large enough for ``source`` (at most ``MAX_STACK``;
    ``nesting_error`` has turned away what could need more): the calling thread's, the parser
    thread's (``PARSER_STACK``) or, for more, a thread of its own."""
    need = stack_bound(source)
    if need <= CALLER_STACK:
        return cst.parse_module(source)
    if need <= PARSER_STACK:
        return _parser().run(lambda: cst.parse_module(source))
    return in_thread(lambda: cst.parse_module(source), min(need, MAX_STACK))


@dataclass
class Pieces:
    """Where ``split`` cut a text (the start offset of each piece), and the most operations one
    expression in it chains (``longest_chain``)."""

    cuts: list[int]
    chain: int = 0


def split(source: str, each: Callable[[ast.Module], object] | None = None, *, chains: bool = True) -> Pieces | None:
    """Where ``source`` is cut into pieces of whole top-level statements, each about ``PIECE``
    characters or longer and parsed by CPython on its own; each piece's tree goes to ``each`` and
    is let go. ``None`` when a piece does not parse: CPython rejects the text (or a cut would need
    more than it allows), which then goes on whole. ``chains=False`` leaves ``Pieces.chain`` to
    the caller (``each`` may measure it in its own walk); with neither, no tree is built: each
    piece is only checked (``_accepted``)."""
    starts = [match.start() for match in _STATEMENT_START.finditer(source, PIECE)]
    found = Pieces([])
    begin, size = 0, PIECE
    while begin < len(source) or not found.cuts:
        at = bisect.bisect_left(starts, begin + size)
        end = starts[at] if at < len(starts) else len(source)
        try:
            tree = _python_tree(source[begin:end]) if each is not None or chains else _accepted(source[begin:end])
        except _UNPARSABLE:
            if end == len(source):
                return None
            size = 2 * (end - begin)  # the cut fell inside a statement (a string, brackets): a longer piece
            continue
        if each is not None and tree is not None:
            each(tree)
        if chains and tree is not None:
            found.chain = max(found.chain, longest_chain(tree))
        del tree
        found.cuts.append(begin)
        begin, size = end, PIECE
    return found


def _accepted(text: str) -> None:
    """Raise what ``_python_tree(text)`` raises, if anything, without building the tree where
    possible: CPython's symbol table of ``text`` needs the same parse but no Python objects for
    its nodes (about half the time). Its own errors (``nonlocal`` at module level, a repeated
    parameter) are not the parser's: then the tree is asked."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            symtable.symtable(text, "<piece>", "exec")
    except _UNPARSABLE:
        _python_tree(text)


def _python_tree(text: str) -> ast.Module:
    """CPython's tree of ``text``; a chain too long for the recursion limit (about 3,000 ``+``)
    is tried again with a large stack and limit (a thread's)."""
    def compiled() -> ast.Module:
        with warnings.catch_warnings():  # invalid escape sequences and the like: not ours to report
            warnings.simplefilter("ignore")
            return compile(text, "<piece>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)

    try:
        return compiled()
    except RecursionError:
        if sys.getrecursionlimit() >= DEEP_RECURSION:
            raise
    return in_thread(compiled, DEEP_STACK, DEEP_RECURSION)


def parse_pieces(source: str, cuts: list[int]) -> cst.Module:
    """The module ``parse(source)`` gives, parsed piece by piece at ``cuts`` (from ``split``)."""
    if len(cuts) <= 1:
        return parse(source)
    ends = [*cuts[1:], len(source)]
    body: list[cst.BaseStatement] = []
    between: list[cst.EmptyLine] = []  # lines after a piece's last statement: the next one's leading lines
    first = indent = None
    for begin, end in zip(cuts, ends):
        try:
            piece = parse(source[begin:end])
        except cst.ParserSyntaxError:  # libcst's limits, where CPython accepts: its error on the whole text
            return parse(source)
        statements = list(piece.body)
        if not statements:  # a first piece of only comments: they belong to the module's header
            return parse(source)
        if first is None:
            first = piece
        elif statements and between:
            statements[0] = statements[0].with_changes(leading_lines=(*between, *statements[0].leading_lines))
            between = []
        if indent is None and any(_opens_block(statement) for statement in statements):
            indent = piece.default_indent
        body.extend(statements)
        between.extend(piece.footer)
        last = piece
    assert first is not None
    return first.with_changes(body=tuple(body), footer=tuple(between), default_indent=indent or first.default_indent,
                              has_trailing_newline=last.has_trailing_newline)


def _opens_block(node: cst.CSTNode) -> bool:
    """Whether a statement holds an indented block (libcst takes a module's ``default_indent``
    from the first one)."""
    if isinstance(node, cst.IndentedBlock):
        return True
    if isinstance(node, (cst.BaseExpression, cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return False
    return any(_opens_block(child) for child in node.children)


def nesting_error(source: str) -> tuple[str, int, int] | None:
    """``(message, line, column)`` of CPython's error (1-based) when ``source`` nests deeper than
    Python accepts, or when it could need more than ``MAX_STACK`` to parse and Python refuses it
    for any reason; ``None`` otherwise (the text goes on to libcst)."""
    bound = stack_bound(source)
    huge = bound > MAX_STACK
    if bound <= STACK_TO_ASK_PYTHON and bracket_depth(source) < DEPTH_TO_ASK_PYTHON:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<lint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        if huge or any(text in str(err.msg) for text in _NESTING_MESSAGES):
            return f"{type(err).__name__}: {err.msg}", err.lineno or 1, max(err.offset or 1, 1)
    except (RecursionError, MemoryError) as err:  # Python's parser gave up on the depth
        offset = _deepest(source)
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        return f"{type(err).__name__}: {str(err) or 'too deeply nested for Python to parse'}", line, column
    except ValueError as err:  # null bytes
        if huge:
            return f"SyntaxError: {err}", 1, 1
    return None


def bracket_depth(source: str) -> int:
    """The deepest bracket nesting of the raw text (brackets in strings and comments count too)."""
    brackets = _NOT_BRACKET.sub("", source)
    return max(accumulate(map(_DEPTH.__getitem__, brackets)), default=0)


def _deepest(source: str) -> int:
    """The offset of the bracket that opens the deepest level."""
    depth, deepest, where = 0, 0, 0
    for match in _BRACKET.finditer(source):
        depth += _DEPTH[match.group()]
        if depth > deepest:
            deepest, where = depth, match.start()
    return where


class _Outcome:
    """What work run on another thread gave: its value, or its exception to raise in the caller."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self, work: Callable[[], Any]) -> None:
        try:
            self.value = work()
        except BaseException as exc:  # re-raised in the thread that asked
            self.error = exc
        self.done.set()

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def _start(target: Callable[[], None], stack: int, name: str, *, daemon: bool = False) -> threading.Thread:
    """A started thread with ``stack`` bytes of stack."""
    with _stack_lock:  # the stack size is process-wide: set it only for this thread's start
        previous = threading.stack_size()
        try:
            threading.stack_size(stack)
            thread = threading.Thread(target=target, name=name, daemon=daemon)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


class _ParserThread:
    """A long-lived thread with a ``PARSER_STACK`` stack that runs parses one at a time. libcst's
    parser costs about 10% more CPU on a thread of its own per text than on a thread that has
    parsed before (peft's and trl's 68 parsed files, 5 alternating rounds in one process:
    5.1-5.3 s against 4.6-5.0 s, and 4.3-4.8 s on the main thread)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], _Outcome]] = queue.SimpleQueue()
        _start(self._serve, PARSER_STACK, "lora-lint-parser", daemon=True)

    def _serve(self) -> None:
        while True:
            work, outcome = self._jobs.get()
            outcome.run(work)
            del work, outcome

    def run(self, work: Callable[[], _T]) -> _T:
        outcome = _Outcome()
        self._jobs.put((work, outcome))
        outcome.done.wait()
        return outcome.result()  # type: ignore[no-any-return]


_parser_thread: _ParserThread | None = None


def _parser() -> _ParserThread:
    """This process's parser thread (a forked child starts its own: threads do not survive a fork)."""
    global _parser_thread
    with _parser_lock:
        if _parser_thread is None or _parser_thread.pid != os.getpid():
            _parser_thread = _ParserThread()
        return _parser_thread


def in_thread(work: Callable[[], _T], stack: int, recursion_limit: int | None = None) -> _T:
    """``work()`` in a new thread with ``stack`` bytes of stack (and a recursion limit of at least
    ``recursion_limit`` while it runs); its exception is raised here."""
    outcome = _Outcome()
    limit = sys.getrecursionlimit()
    if recursion_limit is not None:
        sys.setrecursionlimit(max(limit, recursion_limit))
    try:
        _start(lambda: outcome.run(work), stack, "lora-lint-parse").join()
    finally:
        if recursion_limit is not None:
            sys.setrecursionlimit(limit)
    return outcome.result()  # type: ignore[no-any-return]
