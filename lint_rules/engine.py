"""Linting one source text: prefilter, one parse, one analysis pass, every enabled rule, fixes.

``lint_source`` and ``fix_source`` are the public entry points (settings as in
``[tool.lora-lint]``); ``Linter`` is what a run builds once and uses for every file.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import libcst as cst
from libcst.metadata import MetadataWrapper

from . import analysis, config, project, sources
from .catalog import all_rules
from .config import SYNTAX_ERROR
from .errors import FixError, LintError
from .fixes import Edits, apply
from .parsing import (DEEP_RECURSION, DEEP_STACK, MAX_CHAIN, Pieces, in_thread, nesting_error, parse, parse_pieces,
                      split)
from .positions import Positions
from .prefilter import Prefilter
from .rule import RuleContext
from .sources import FixResult
from .suppression import ALL, NoqaMap, file_exemptions
from .violation import FixInfo, Location, Violation, fixable

MAX_FIX_ROUNDS = 10
_PARSER_PREFIX = re.compile(r"^parser error: error at \d+:\d+: ")


@dataclass
class _Found:
    violation: Violation
    replacements: Mapping[cst.CSTNode, Any]
    spans: tuple[tuple[tuple[int, int], tuple[int, int]], ...]  # replaced node ranges


class Linter:
    """The enabled rules and resolved settings of one run, applied to one source at a time."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        rules = all_rules()
        self.rules = [rules[code]() for code in settings.enabled if code != SYNTAX_ERROR]
        # the triggers of the rules that can report under the run's versions; a script with its own
        # PEP 723 requirements may choose others, and gets every enabled rule's (``prefilter_for``)
        ctx = self.context("")
        self.prefilter = Prefilter.for_codes(settings.enabled, lambda code: rules[code].reports_under(ctx))
        self._every_rule = Prefilter.for_codes(settings.enabled)
        self.per_file = any(rule.PER_FILE for rule in self.rules)
        # what the rules on LoraConfig calls need: a file only the per-file rules want is indexed, not analysed
        self.config_prefilter = Prefilter.for_rules([type(rule) for rule in self.rules if not rule.PER_FILE])
        self._parsed: tuple[str, cst.Module] | None = None  # the text being linted, parsed

    def prefilter_for(self, source: str) -> Prefilter:
        """``prefilter``, or every enabled rule's for a text with a PEP 723 block (``project``)."""
        return self._every_rule if project.INLINE_SCRIPT in source else self.prefilter

    def context(self, filename: str, source: str = "") -> RuleContext:
        """The rules' view of one file: a script's PEP 723 requirements beat the project's,
        an explicit ``target-peft-version``/``target-transformers-version`` beats both."""
        s = self.settings
        ctx = RuleContext(filename=filename, peft_spec=s.peft_spec, peft_spec_source=s.peft_spec_source,
                          peft_versions=s.peft_versions, model=s.model, transformers=s.transformers,
                          options=s.options)
        return project.context_for_source(ctx, source, peft=not s.peft_spec_explicit,
                                          transformers=not s.transformers_explicit)

    def lint(self, source: str, filename: str = "<stdin>", relpath: str | None = None) -> list[Violation]:
        """Violations in one file's text, read as the kind of input its name says (``sources``)."""
        return sources.for_name(filename).lint(self, source, filename, relpath)

    def lint_python(self, source: str, filename: str, relpath: str | None = None, *,
                    kind: str = "python", added_tokens: tuple[str, ...] = ()) -> list[Violation]:
        """Violations in Python source; ``kind`` other than ``python``: the program a config
        file's settings make (``sources.config_program``), checked by the rules for that kind
        (``added_tokens``: the file's keys that add tokens, ``RuleContext.added_tokens``)."""
        try:
            return _deep(lambda: [found.violation for found in
                                  self._check(source, filename, relpath, kind, added_tokens)[1]])
        finally:
            self._parsed = None

    def fix(self, source: str, filename: str = "<stdin>", *, unsafe: bool = False,
            relpath: str | None = None) -> FixResult:
        """Fixed text (of any source), the violations left and how many fixes were applied."""
        return sources.for_name(filename).fix(self, source, filename, relpath, unsafe=unsafe)

    def fix_python(self, source: str, filename: str, *, unsafe: bool = False,
                   relpath: str | None = None) -> FixResult:
        """Apply fixes until none is left (at most ``MAX_FIX_ROUNDS``); re-parse and re-lint each round."""
        try:
            result = _deep(lambda: self._fix_python(source, filename, unsafe, relpath))
        finally:
            self._parsed = None
        result.source = _keep_ends(source, result.source)
        return result

    def _fix_python(self, source: str, filename: str, unsafe: bool, relpath: str | None) -> FixResult:
        current: str = source
        fixed: list[Violation] = []
        for _ in range(MAX_FIX_ROUNDS):
            module, found = self._check(current, filename, relpath)
            chosen = _non_overlapping([f for f in found if _applies(f, unsafe)])
            if module is None or not chosen:
                return FixResult(current, [f.violation for f in found], fixed)
            merged: dict[cst.CSTNode, Any] = {}
            for f in chosen:
                merged.update(f.replacements)
            fixed_source = apply(module, merged)
            try:
                parse(fixed_source)
            except cst.ParserSyntaxError as exc:
                codes = ", ".join(sorted({f.violation.code for f in chosen}))
                raise FixError(f"{filename}: the fix for {codes} would not parse ({_short(exc)}); file left unchanged") from exc
            if fixed_source == current:
                break
            current = fixed_source
            fixed.extend(f.violation for f in chosen)
        return FixResult(current, [f.violation for f in self._check(current, filename, relpath)[1]], fixed)

    def _check(self, source: str, filename: str, relpath: str | None,
               kind: str = "python", added_tokens: tuple[str, ...] = ()) -> tuple[cst.Module | None, list[_Found]]:
        config = kind != "python"  # a config file's one LoraConfig call: every enabled rule may look at it
        prefilter = self.prefilter_for(source)
        if not config and not prefilter.mentions(source):
            return None, []
        off = file_exemptions(source) | self._ignored(filename, relpath)
        if ALL in off:
            return None, []
        scan = prefilter.scan()  # it measures the chains too: one tree and one walk per piece
        walk = config or prefilter.may_call(source)  # else no tree: the scan would find nothing
        pieces = split(source, scan.add if walk else None, chains=False)  # None: CPython rejects the text
        if not config and not (scan.found() if pieces is not None else prefilter.calls(source)):
            return None, []
        if pieces is not None:
            pieces.chain = scan.chains.longest
        if pieces is not None and pieces.chain > MAX_CHAIN:
            raise LintError(f"{filename}: not linted: an expression chains {pieces.chain:,} operations "
                            f"(`a + b + ...`, `x.y.z...`, `f()()...`, `x[0][0]...`); libcst's parser takes time "
                            f"quadratic in their number and is not given more than {MAX_CHAIN:,}")
        # before libcst, whose native parser would overflow the stack (text CPython accepts nests little)
        too_deep = nesting_error(source) if pieces is None else None
        failure = (too_deep[0], Location(too_deep[1], too_deep[2])) if too_deep is not None else None
        if failure is None:
            try:
                module = self._parse(source, pieces)
            except cst.ParserSyntaxError as exc:
                failure = _syntax_error(source, exc)
                if failure is None:  # valid Python: no LORA000, and nothing else can be said
                    raise LintError(f"{filename}: not linted: Python parses it but libcst cannot "
                                    f"({_short(exc)})") from exc
        if failure is not None:
            if SYNTAX_ERROR in off or SYNTAX_ERROR not in self.settings.enabled:
                return None, []
            message, start = failure
            return None, [_Found(self._violation(SYNTAX_ERROR, message, filename, start,
                                                 Location(start.row, start.column + 1)), {}, ())]
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        ctx = self.context(filename, source)
        if kind != "python":
            ctx = replace(ctx, source_kind=kind, added_tokens=added_tokens)
            ctx = project.context_for_framework(ctx, kind, self.settings.frameworks, self.settings.peft_spec_declared)
        if self.per_file and not config and not self.config_prefilter.mentions(source):
            calls = analysis.index_only(module)
        else:
            calls = analysis.collect_calls(wrapper, ctx)
        if kind != "python":
            for call in calls:  # a config file lists its settings: the keywords are exactly those
                call.keywords = {name: kw for name, kw in call.keywords.items() if kw.name == name
                                 and (kw.arg is None or kw.arg.keyword is None or kw.arg.keyword.value == name)}
                call.open_ended = False
        if not calls and not self.per_file:
            return module, []
        findings = [(rule, call, finding) for rule in self.rules
                    if rule.CODE not in off and (rule.SOURCES is None or kind in rule.SOURCES)
                    for call, finding in _findings(rule, calls, ctx)]
        if not findings:
            return module, []
        wanted = {node for _, call, finding in findings
                  for node in (finding.node, getattr(call, "node", None), *finding.replacements) if node is not None}
        positions = Positions(module, source, wanted)  # kept only on the paths down to these nodes
        noqa: NoqaMap | None = None
        edits: Edits | None = None
        found: list[_Found] = []
        for rule, call, finding in findings:
            where = positions[finding.node]
            spans = [(where.start.line, where.end.line)]
            call_node = getattr(call, "node", None)
            if call_node is not None and call_node in positions:  # the call's lines count too
                spans.append((positions[call_node].start.line, positions[call_node].end.line))
            noqa = noqa or NoqaMap.from_source(source)
            if any(noqa.suppresses(rule.CODE, first, last) for first, last in spans):
                continue
            fix = None
            if finding.replacements and rule.FIX:
                edits = edits or Edits(module, source, positions)
                fix = FixInfo(rule.FIX, finding.fix_message or f"Fix {rule.NAME}",
                              edits.for_replacements(finding.replacements))
            violation = self._violation(
                rule.CODE, finding.message, filename,
                Location(where.start.line, where.start.column + 1),
                Location(where.end.line, where.end.column + 1), fix, finding.severity)
            replaced = tuple(((positions[n].start.line, positions[n].start.column),
                              (positions[n].end.line, positions[n].end.column)) for n in finding.replacements)
            found.append(_Found(violation, finding.replacements if fix else {}, replaced))
        found.sort(key=lambda f: (f.violation.location.row, f.violation.location.column, f.violation.code))
        return module, found

    def _parse(self, source: str, pieces: Pieces | None) -> cst.Module:
        """``parse`` (piece by piece, when ``split`` could cut the text), once per text:
        when the analysis of a long chain (``1 + 1 + ...``) overflows the recursion limit and
        ``_deep`` runs it again, the module parsed first is reused (parsing such a chain costs more
        than the rest)."""
        if self._parsed is not None and self._parsed[0] is source:
            return self._parsed[1]
        module = parse(source) if pieces is None else parse_pieces(source, pieces.cuts)
        self._parsed = (source, module)
        return module

    def invalid_file(self, filename: str, message: str, relpath: str | None = None) -> list[Violation]:
        """LORA000 (unless turned off for this file) for a file that cannot even be read as what
        its name says: undecodable text, a notebook that is not JSON."""
        if SYNTAX_ERROR not in self.settings.enabled or SYNTAX_ERROR in self._ignored(filename, relpath):
            return []
        return [self._violation(SYNTAX_ERROR, message, filename, Location(1, 1), Location(1, 1))]

    def syntax_error(self, source: str, filename: str, relpath: str | None, message: str,
                     start: Location) -> list[Violation]:
        """LORA000 at ``start`` for a part of ``source`` that does not parse (a notebook cell),
        where ``lint_python`` would report one: not for a skipped file or with LORA000 off."""
        if not self.prefilter_for(source).mentions(source):
            return []
        off = file_exemptions(source) | self._ignored(filename, relpath)
        if ALL in off or SYNTAX_ERROR in off or SYNTAX_ERROR not in self.settings.enabled:
            return []
        return [self._violation(SYNTAX_ERROR, message, filename, start, Location(start.row, start.column + 1))]

    def _ignored(self, filename: str, relpath: str | None) -> set[str]:
        """What ``per-file-ignores`` turns off for the file (by ``relpath``, else by its name as given)."""
        return self.settings.ignored_for(relpath if relpath is not None else filename.replace("\\", "/"))

    def _violation(self, code: str, message: str, filename: str, start: Location, end: Location,
                   fix: FixInfo | None = None, severity: str | None = None) -> Violation:
        rule = all_rules()[code]
        return Violation(code=code, name=rule.NAME, severity=self.settings.severity(code, severity), message=message,
                         filename=filename, location=start, end_location=end, fix=fix, url=rule.url())


_T = TypeVar("_T")


def _deep(work: Callable[[], _T]) -> _T:
    """``work()``; on a ``RecursionError`` (libcst visits recursively: ``1 + 1 + ...`` with
    hundreds of terms, or a long implicit string concatenation, is valid Python deeper than
    the default limit), once more in a thread with a large stack and a high recursion limit."""
    try:
        return work()
    except RecursionError:
        pass
    return in_thread(work, DEEP_STACK, DEEP_RECURSION)


def _findings(rule: Any, calls: Any, ctx: RuleContext) -> Iterator[tuple[Any, Any]]:
    """``(call, finding)`` for each finding of ``rule`` on the file (``call`` None for a
    ``PER_FILE`` rule's)."""
    if rule.PER_FILE:
        for finding in rule.check_file(calls, ctx):
            yield None, finding
        return
    for call in calls:
        if getattr(call, "origin", None) is not None and not rule.CHECKS_IMPORTED:
            continue  # a config of another module: only what this file's model adds
        for finding in rule.check(call, ctx):
            yield call, finding


def _syntax_error(source: str, exc: cst.ParserSyntaxError) -> tuple[str, Location] | None:
    """Message and position: CPython's (more precise) where it also rejects the code, else
    libcst's; ``None`` when CPython accepts the code (libcst's limits: 4,000 implicitly
    concatenated strings, syntax newer than libcst)."""
    try:
        compile(source, "<lint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        if err.lineno:
            return f"SyntaxError: {err.msg}", Location(err.lineno, max(err.offset or 1, 1))
    except (ValueError, MemoryError, RecursionError):
        pass
    else:
        return None
    return f"SyntaxError: {_short(exc)}", Location(exc.raw_line, exc.raw_column + 1)


def _keep_ends(source: str, fixed: str) -> str:
    """What libcst's code generation loses put back: a leading BOM (``\\ufeff``, as stdin gives
    it) and the final ``\\r`` of a file whose lines end in CR only."""
    if fixed == source:
        return fixed
    if source.startswith("\ufeff") and not fixed.startswith("\ufeff"):
        fixed = "\ufeff" + fixed
    if source.endswith("\r") and not fixed.endswith("\r"):
        fixed += "\r"
    return fixed


def _short(exc: cst.ParserSyntaxError) -> str:
    message = _PARSER_PREFIX.sub("", exc.message.splitlines()[0] if exc.message else "invalid syntax")
    return message if len(message) <= 100 else message[:97] + "..."


def _applies(found: _Found, unsafe: bool) -> bool:
    return bool(found.replacements) and fixable(found.violation, unsafe)


def _non_overlapping(found: list[_Found]) -> list[_Found]:
    """Fixes whose replaced ranges overlap an earlier chosen fix wait for the next round."""
    chosen: list[_Found] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for f in found:
        if any(a < d and c < b for a, b in f.spans for c, d in taken):
            continue
        chosen.append(f)
        taken.extend(f.spans)
    return chosen


@lru_cache(maxsize=64)
def _linter(settings_json: str, select: tuple[str, ...] | None) -> Linter:
    layers: list[tuple[str, Mapping[str, Any]]] = [("settings", config.check_settings(json.loads(settings_json)))]
    if select is not None:
        layers.append(("select", {"select": list(select)}))
    return Linter(config.resolve(layers))


def linter_for(settings: Mapping[str, Any] | None = None, select: Sequence[str] | None = None) -> Linter:
    """A ``Linter`` for settings as in ``[tool.lora-lint]`` (memoised)."""
    return _linter(json.dumps(dict(settings or {}), sort_keys=True), tuple(select) if select is not None else None)


def lint_source(source: str, *, filename: str = "<stdin>", settings: Mapping[str, Any] | None = None,
                select: Sequence[str] | None = None) -> list[Violation]:
    """Lint one source text; ``settings`` as in ``[tool.lora-lint]``, ``select`` as ``--select``."""
    return linter_for(settings, select).lint(source, filename)


def fix_source(source: str, *, filename: str = "<stdin>", settings: Mapping[str, Any] | None = None,
               select: Sequence[str] | None = None, unsafe: bool = False) -> tuple[str, list[Violation]]:
    """The source with fixes applied, and the violations that remain."""
    result = linter_for(settings, select).fix(source, filename, unsafe=unsafe)
    return result.source, result.violations
