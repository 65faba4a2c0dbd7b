"""Small helpers the rules share: version wording, lists in messages, fix building."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import libcst as cst
from packaging.version import Version

from ..analysis.walk import children
from ..rule import RuleContext


def lowest(ctx: RuleContext) -> str:
    return ctx.peft_versions[0]


def highest(ctx: RuleContext) -> str:
    return ctx.peft_versions[-1]


def newer(a: str, b: str) -> bool:
    return Version(a) > Version(b)


def allowed(ctx: RuleContext) -> str:
    """``peft >=0.8 (from pyproject.toml ...)``: the checked range and where it came from."""
    spec = ctx.peft_spec or " (any version)"
    return f"peft{spec} (from {ctx.peft_spec_source})"


_TRAINERS = {"axolotl": "an axolotl", "llamafactory": "a LLaMA-Factory"}


def needs_newer(ctx: RuleContext, version: str) -> str:
    """The advice for a keyword or value that needs peft >= ``version``."""
    trainer = _TRAINERS.get(ctx.source_kind)
    if trainer is not None:  # the framework installs peft, and a YAML key has no version check
        return f"use {trainer} release that installs peft>={version}, or leave the key out"
    return f"require peft>={version} or guard it with a version check"


def listing(names: Iterable[str], limit: int = 8) -> str:
    names = list(dict.fromkeys(names))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def string_list(values: Sequence[str]) -> cst.List:
    return cst.List([cst.Element(cst.SimpleString(f'"{v}"')) for v in values])


def number(value: float) -> cst.BaseExpression:
    if float(value).is_integer():
        return cst.Integer(str(int(value)))
    return cst.Float(repr(float(value)))


def fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def keyword_node(keyword: Any) -> cst.CSTNode:
    """Where a keyword's name is written: ``name=`` in the call, or a dict entry's key;
    for a keyword from a dict bound elsewhere, the ``**splat`` it came in by."""
    if isinstance(keyword.arg, cst.Arg) and keyword.arg.keyword is not None:
        return keyword.arg.keyword
    if isinstance(keyword.arg, cst.DictElement):
        return keyword.arg.key
    return keyword.report_node


def written_element(keyword: Any, test: Callable[[str], bool]) -> cst.CSTNode | None:
    """The first string element of a list, tuple or set written in the call whose value passes
    ``test`` (None for a value from elsewhere, or no such element)."""
    if keyword is None or keyword.arg is None or not isinstance(keyword.node, (cst.List, cst.Tuple, cst.Set)):
        return None
    for element in keyword.node.elements:
        value = element.value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str) and test(value.evaluated_value):
            return value
    return None


def value_node(keyword: Any) -> cst.CSTNode:
    """Where a keyword's value is written, or the ``**splat`` for one from elsewhere."""
    return keyword.node if keyword.arg is not None else keyword.report_node


def literal_in_call(keyword: Any) -> bool:
    """Whether the keyword's value is a literal written in the call: only then does a fix
    replace it (a name may be a parameter or shared constant whose meaning would be lost)."""
    if keyword.arg is None:
        return False
    stack = [keyword.node]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute, cst.Call)) and not (
                isinstance(node, cst.Name) and node.value in ("True", "False", "None")):
            return False
        stack.extend(children(node))
    return True


def _comments(node: cst.CSTNode) -> list[cst.Comment]:
    """The comments written inside ``node``, in source order."""
    found: list[cst.Comment] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Comment):
            found.append(current)
        stack.extend(reversed(children(current)))
    return found


def replacing(old: cst.BaseExpression, new: cst.BaseExpression) -> cst.BaseExpression:
    """``new`` to put in place of ``old``, keeping the comments written inside ``old``: its
    parentheses (and a list's brackets) stay with their comments; any other comment becomes a
    comment line at the start of the new value."""
    comments = _comments(old)
    if not comments:
        return new
    if old.lpar:
        new = new.with_changes(lpar=old.lpar, rpar=old.rpar)
    if isinstance(old, cst.List) and isinstance(new, cst.List):
        new = new.with_changes(lbracket=old.lbracket, rbracket=old.rbracket,
                               elements=_one_per_line(new.elements, old))
    kept = {id(c) for c in _comments(new)}
    lost = [c for c in comments if id(c) not in kept]
    return _comment_lines(new, lost) if lost else new


def _one_per_line(elements: Sequence[cst.BaseElement], like: cst.List) -> list[cst.BaseElement]:
    """``elements`` laid out as ``like``'s: one per line when it starts a line after ``[``."""
    layout = like.lbracket.whitespace_after
    if not isinstance(layout, cst.ParenthesizedWhitespace):
        return list(elements)
    line = cst.ParenthesizedWhitespace(indent=layout.indent, last_line=layout.last_line)
    trailing = bool(like.elements) and isinstance(like.elements[-1].comma, cst.Comma)
    out = [e.with_changes(comma=cst.Comma(whitespace_after=line)) for e in elements[:-1]]
    return out + [e.with_changes(comma=cst.Comma() if trailing else cst.MaybeSentinel.DEFAULT) for e in elements[-1:]]


def _comment_lines(new: cst.BaseExpression, comments: list[cst.Comment]) -> cst.BaseExpression:
    """``new`` with ``comments`` as lines after its ``[`` (when that ends a line) or its first
    ``(``, which a pair of parentheses is added for when it has none."""
    if isinstance(new, cst.List) and isinstance(new.lbracket.whitespace_after, cst.ParenthesizedWhitespace):
        layout = new.lbracket.whitespace_after
        return new.with_changes(lbracket=new.lbracket.with_changes(whitespace_after=_with_lines(layout, comments)))
    first, rpar = (new.lpar[0], new.rpar) if new.lpar else (cst.LeftParen(), [*new.rpar, cst.RightParen()])
    layout = first.whitespace_after
    if not isinstance(layout, cst.ParenthesizedWhitespace):
        layout = cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "), comment=comments[0]),
            indent=True, last_line=cst.SimpleWhitespace("    "))
        comments = comments[1:]
    first = first.with_changes(whitespace_after=_with_lines(layout, comments))
    return new.with_changes(lpar=[first, *new.lpar[1:]] if new.lpar else [first], rpar=rpar)


def _with_lines(layout: cst.ParenthesizedWhitespace, comments: list[cst.Comment]) -> cst.ParenthesizedWhitespace:
    lines = [cst.EmptyLine(indent=layout.indent, whitespace=layout.last_line, comment=c) for c in comments]
    return layout.with_changes(empty_lines=[*layout.empty_lines, *lines])


def _elements(container: cst.CSTNode) -> Sequence[Any]:
    return container.args if isinstance(container, cst.Call) else container.elements


def remove_element(container: cst.Call | cst.Dict, element: cst.Arg | cst.DictElement) -> dict:
    """Replacements removing an argument (or dict entry) and keeping commas right: the last
    one's trailing comma and closing whitespace move to the one before it. Comments on the
    removed element's own lines go with it; comment lines after it and the comment that ends
    the line before it stay."""
    elements = list(_elements(container))
    position = elements.index(element)
    replacements: dict[cst.CSTNode, Any] = {element: cst.RemovalSentinel.REMOVE}
    after = element.comma.whitespace_after if isinstance(element.comma, cst.Comma) else None
    if position == 0:
        return _remove_first(container, element, after) or replacements
    if not (position == len(elements) - 1 or isinstance(after, cst.ParenthesizedWhitespace)):
        return replacements
    before = elements[position - 1]
    kept = before.comma.whitespace_after if isinstance(before.comma, cst.Comma) else None
    if position < len(elements) - 1:  # comment lines after the element now follow the one before it
        lines = [line for line in after.empty_lines if line.comment is not None]
        if lines and isinstance(kept, cst.ParenthesizedWhitespace):
            replacements[before] = before.with_changes(comma=before.comma.with_changes(
                whitespace_after=kept.with_changes(empty_lines=[*kept.empty_lines, *lines])))
        return replacements
    if isinstance(element.comma, cst.Comma):
        changes: dict[str, Any] = {"comma": element.comma.with_changes(whitespace_after=_joined(kept, after))}
    elif isinstance(element, cst.Arg):
        changes = {"comma": element.comma, "whitespace_after_arg": _joined(kept, element.whitespace_after_arg)}
    elif _comments(before.comma):
        return replacements  # a dict entry: the comma before keeps its comment as a trailing comma
    else:
        changes = {"comma": element.comma}
    if isinstance(element, cst.Arg) and "whitespace_after_arg" not in changes:
        changes["whitespace_after_arg"] = element.whitespace_after_arg
    replacements[before] = before.with_changes(**changes)
    return replacements


def _remove_first(container: cst.Call | cst.Dict, element: Any, after: Any) -> dict:
    """The container without its first element, the comment lines after that element moved after
    the opening bracket; empty when there are none (removing the element alone is enough)."""
    lines = [line for line in after.empty_lines if line.comment is not None] \
        if isinstance(after, cst.ParenthesizedWhitespace) else []
    opening = container.whitespace_before_args if isinstance(container, cst.Call) else container.lbrace.whitespace_after
    if not lines or not isinstance(opening, cst.ParenthesizedWhitespace):
        return {}
    opening = opening.with_changes(empty_lines=[*opening.empty_lines, *lines])
    rest = [e for e in _elements(container) if e is not element]
    if isinstance(container, cst.Call):
        return {container: container.with_changes(args=rest, whitespace_before_args=opening)}
    return {container: container.with_changes(elements=rest, lbrace=container.lbrace.with_changes(whitespace_after=opening))}


def _joined(kept: Any, closing: Any) -> Any:
    """The whitespace after an element whose successor was removed: the comment that ended its
    line and the comment lines after it (from ``kept``), then ``closing``'s way to the bracket."""
    if not isinstance(kept, cst.ParenthesizedWhitespace) or not _comments(kept):
        return closing
    if isinstance(closing, cst.ParenthesizedWhitespace):
        lines = [line for line in closing.empty_lines if line.comment is not None]
        return closing.with_changes(first_line=kept.first_line, empty_lines=[*kept.empty_lines, *lines])
    return kept.with_changes(last_line=cst.SimpleWhitespace(""))


def add_keyword(call: cst.Call, name: str, value: cst.BaseExpression, after: cst.Arg | None = None) -> dict:
    """A replacement adding ``name=value`` after ``after`` (default: the last argument),
    separated the way the call's arguments already are (one per line, or inline)."""
    new = cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
    if not call.args:
        return {call: call.with_changes(args=[new])}
    anchor = after if after is not None else call.args[-1]
    if len(call.args) > 1 and isinstance(call.args[0].comma, cst.Comma):
        separator = call.args[0].comma
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        separator = cst.Comma(whitespace_after=call.whitespace_before_args)
    else:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    comma = anchor.comma if isinstance(anchor.comma, cst.Comma) else None
    tail = comma.whitespace_after if comma is not None else anchor.whitespace_after_arg
    line = separator.whitespace_after
    if isinstance(tail, cst.ParenthesizedWhitespace) and isinstance(line, cst.ParenthesizedWhitespace):
        # one argument per line: the anchor keeps the comment at its line's end, the new
        # argument takes the anchor's place before the comment lines and `)` or next argument
        ends = tail.with_changes(empty_lines=[], indent=line.indent, last_line=line.last_line)
        rest = tail.with_changes(first_line=cst.TrailingWhitespace())
        if comma is not None:
            kept = anchor.with_changes(comma=comma.with_changes(whitespace_after=ends))
            added = new.with_changes(comma=cst.Comma(whitespace_after=rest))
        else:
            kept = anchor.with_changes(comma=cst.Comma(whitespace_after=ends),
                                       whitespace_after_arg=cst.SimpleWhitespace(""))
            added = new.with_changes(whitespace_after_arg=rest)
        return {anchor: cst.FlattenSentinel([kept, added])}
    return {anchor: cst.FlattenSentinel([
        anchor.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace("")),
        new.with_changes(comma=anchor.comma, whitespace_after_arg=anchor.whitespace_after_arg),
    ])}
