"""Runtime version checks: code that only runs on some peft versions.

A test counts as a version check when it mentions a name with "version" in it
(``peft.__version__``, ``version.parse``, ``importlib.metadata.version``, ``PEFT_VERSION``,
``is_peft_version(...)``), probes LoraConfig's fields (``hasattr``, ``inspect.signature``,
``dataclasses.fields``, ``getattr``, ``dir``), or reads a name assigned such a test (or an
expression of one), a flag set when a peft import failed (``try: from peft... import X`` /
``except ImportError: HAS_X = False``), or calls a function of the file that returns one.
Test code skipped by a version check (``@pytest.mark.skipif``, ``@unittest.skipIf``, a
module's ``pytestmark``, ``pytest.importorskip("peft", minversion=...)``) is guarded, and
so is code in ``X if <check> else Y`` and ``<check> and X``, after ``if <check>:
raise/exit/return/continue``, and in a ``try`` whose handler catches ``TypeError`` (or
catches broadly and builds a fallback ``LoraConfig``).
Leaning towards "guarded" only makes the version rules quieter.
"""
from __future__ import annotations

from typing import AbstractSet, Callable

import libcst as cst

from .nodes import subnodes

_PROBES = {"hasattr", "getattr", "dir", "signature", "getfullargspec", "getargspec", "co_varnames",
           "fields", "__dataclass_fields__", "__annotations__"}


def names_in(expr: cst.CSTNode) -> frozenset[str]:
    """The names an expression reads and the text of its string literals."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            found.add(node.value)
        elif isinstance(node, cst.SimpleString):
            text = _text(node)
            if text is not None:
                found.add(text)
        stack.extend(subnodes(node))
    return frozenset(found)


def _text(node: cst.SimpleString) -> str | None:
    """A string literal's value (None for bytes); read without evaluating it unless it escapes."""
    prefix = node.prefix.lower()
    if "b" in prefix:
        return None
    raw = node.raw_value
    if "\\" in raw and "r" not in prefix:
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return raw


Names = Callable[[cst.CSTNode], AbstractSet[str]]


def version_test(expr: cst.BaseExpression, versiony_name: Callable[[str], bool], names: Names = names_in) -> bool:
    """Whether ``expr`` checks the installed peft's version or features (``names``: ``names_in``,
    or a caller's memo of it)."""
    found = names(expr)
    if any("version" in name.lower() for name in found):
        return True
    if found & _PROBES and any("LoraConfig" in n or "peft" in n for n in found):
        return True
    return any(versiony_name(name) for name in found if name.isidentifier())


def chain_tests(operands: list[cst.BaseExpression], versiony_name: Callable[[str], bool],
                names: Names = names_in) -> list[bool]:
    """``version_test`` of ``operands[0] and ... and operands[k]`` for each ``k``, in one pass
    over the operands (a chain of N ``and`` tested link by link was N² node visits)."""
    seen: set[str] = set()
    found = probe = lora = False
    tests: list[bool] = []
    for operand in operands:
        for name in names(operand) - seen:
            seen.add(name)
            found = found or "version" in name.lower()
            probe = probe or name in _PROBES
            lora = lora or "LoraConfig" in name or "peft" in name
        tests.append(found or (probe and lora))
    true_from = next((i for i, test in enumerate(tests) if test), len(tests))
    asked: set[str] = set()  # names bound to a version check: asked only where nothing else tells
    for i, operand in enumerate(operands[:true_from]):
        fresh = {n for n in names(operand) if n.isidentifier()} - asked
        asked |= fresh
        if any(versiony_name(n) for n in fresh):
            true_from = i
            break
    return [i >= true_from for i in range(len(operands))]


def terminates(body: cst.BaseSuite) -> bool:
    """Whether a block always ends by raising, exiting, returning or skipping the loop
    iteration (``raise``, ``sys.exit()``, ``return``, ``continue``): the code after it runs
    only when its test was false."""
    if isinstance(body, cst.IndentedBlock):
        if not body.body or not isinstance(body.body[-1], cst.SimpleStatementLine):
            return False
        last = body.body[-1].body[-1]
    else:
        last = body.body[-1]
    if isinstance(last, (cst.Raise, cst.Return, cst.Continue)):
        return True
    if isinstance(last, cst.Expr) and isinstance(last.value, cst.Call):
        func = last.value.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        return name in {"exit", "_exit", "skip"}
    return False
