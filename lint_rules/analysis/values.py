"""Static values of expressions: literals, arithmetic on them, and names resolved in-file.

Anything that cannot be proven is ``UNKNOWN``; callers never guess.
"""
from __future__ import annotations

import ast
from typing import Any, Callable

import libcst as cst


class _Unknown:
    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

NameResolver = Callable[[cst.Name | cst.Attribute], Any]
_CONSTANTS = {"True": True, "False": False, "None": None}
_BUILTIN_CONTAINERS = {"dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
_BINARY = {
    cst.Add: lambda a, b: a + b,
    cst.Subtract: lambda a, b: a - b,
    cst.Multiply: lambda a, b: a * b,
    cst.Divide: lambda a, b: a / b,
    cst.FloorDivide: lambda a, b: a // b,
    cst.Power: lambda a, b: a**b,
}


def evaluate(expr: cst.BaseExpression, names: NameResolver, builtin: Callable[[str], bool]) -> Any:
    """The value of ``expr``, or ``UNKNOWN``.

    ``names`` resolves a ``Name`` that is not a constant, or an ``Attribute``; ``builtin(name)`` says whether a
    name still means the builtin (``dict(r=8)`` counts only when ``dict`` is not rebound).
    """
    try:
        return _eval(expr, names, builtin)
    except (ValueError, TypeError, ArithmeticError):
        return UNKNOWN


def _eval(expr: cst.BaseExpression, names: NameResolver, builtin: Callable[[str], bool]) -> Any:
    if isinstance(expr, (cst.Integer, cst.Float)):
        return _in_range(ast.literal_eval(expr.value))
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        return value if isinstance(value, str) else UNKNOWN
    if isinstance(expr, cst.Name):
        if expr.value in _CONSTANTS:
            return _CONSTANTS[expr.value]
        return names(expr)
    if isinstance(expr, cst.Attribute):
        return names(expr)
    if isinstance(expr, cst.UnaryOperation):
        value = _eval(expr.expression, names, builtin)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(expr.operator, cst.Minus):
                return -value
            if isinstance(expr.operator, cst.Plus):
                return value
        if isinstance(expr.operator, cst.Not) and value is not UNKNOWN:
            return not value
        return UNKNOWN
    if isinstance(expr, cst.BinaryOperation):
        op = _BINARY.get(type(expr.operator))
        left = _eval(expr.left, names, builtin)
        right = _eval(expr.right, names, builtin)
        if op is None or left is UNKNOWN or right is UNKNOWN or _too_big(expr.operator, left, right):
            return UNKNOWN
        return _in_range(op(left, right))
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        items = []
        for element in expr.elements:
            if isinstance(element, cst.StarredElement):
                return UNKNOWN
            value = _eval(element.value, names, builtin)
            if value is UNKNOWN:
                return UNKNOWN
            items.append(value)
        if isinstance(expr, cst.List):
            return items
        return tuple(items) if isinstance(expr, cst.Tuple) else set(items)
    if isinstance(expr, cst.Dict):
        result = {}
        for element in expr.elements:
            if not isinstance(element, cst.DictElement):
                return UNKNOWN
            key = _eval(element.key, names, builtin)
            value = _eval(element.value, names, builtin)
            if key is UNKNOWN or value is UNKNOWN:
                return UNKNOWN
            result[key] = value
        return result
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
        kind = _BUILTIN_CONTAINERS.get(expr.func.value)
        if kind is None or not builtin(expr.func.value):
            return UNKNOWN
        if kind is dict:
            result = {}
            for arg in expr.args:
                if arg.keyword is None:
                    return UNKNOWN
                value = _eval(arg.value, names, builtin)
                if value is UNKNOWN:
                    return UNKNOWN
                result[arg.keyword.value] = value
            return result
        if not expr.args:
            return kind()
        if len(expr.args) == 1 and not expr.args[0].keyword and not expr.args[0].star:
            value = _eval(expr.args[0].value, names, builtin)
            return UNKNOWN if value is UNKNOWN else kind(value)
    return UNKNOWN


def _in_range(value: Any) -> Any:
    """``value``, or ``UNKNOWN`` for an int too large to be a float (no config value is;
    comparing or formatting it as a number would raise ``OverflowError``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return UNKNOWN
    return value


_LONGEST = 100_000  # items or characters: longer sequences are no config value


def _too_big(operator: cst.BaseBinaryOp, left: Any, right: Any) -> bool:
    """Arithmetic whose result could exhaust time or memory (``10**10**9``, ``[x] * 10**9``)."""
    if isinstance(operator, cst.Power):
        return not isinstance(right, (int, float)) or abs(right) > 64
    if isinstance(operator, cst.Multiply):
        sequence = next((a for a in (left, right) if isinstance(a, (str, list, tuple))), None)
        count = next((b for b in (left, right) if isinstance(b, int) and not isinstance(b, bool)), None)
        return sequence is not None and count is not None and len(sequence) * count > _LONGEST
    if isinstance(operator, cst.Add) and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        return len(left) + len(right) > _LONGEST
    return False
