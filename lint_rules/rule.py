"""The rule base class and registry.

A rule is a small class: its code, kebab-case name, severity, summary, fix safety and
``VALID``/``INVALID`` examples (its tests and its documentation page). The engine runs
one analysis pass per file that collects every peft ``LoraConfig(...)`` call with its
statically known arguments (``lint_rules.analysis``), then hands each call to every
enabled rule's ``check`` (a ``PER_FILE`` rule gets the file's index once, in
``check_file``). Rules never walk the tree themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping

if TYPE_CHECKING:  # libcst is only needed for annotations here
    import libcst as cst

SEVERITIES = ("info", "warning", "error")
_CODE_RE = re.compile(r"^LORA\d{3}$")
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DOCS_URL = "https://github.com/pytest-lora/pytest-lora/blob/main/docs/rules/{code}.md"

REGISTRY: dict[str, type["Rule"]] = {}
# What a file can be (``lint_rules.sources``): Python (notebooks included), a saved adapter's
# adapter_config.json, an axolotl or a LLaMA-Factory YAML config.
KINDS = ("python", "adapter_config", "axolotl", "llamafactory")
# A config written by the program that reads it back (not by hand): what a keyword too new,
# removed or unknown means there is LORA104's question.
NOT_SAVED_CONFIGS = tuple(kind for kind in KINDS if kind != "adapter_config")


@dataclass(frozen=True)
class Case:
    """One example: source code, the settings it is checked with, and what is expected.

    ``settings`` holds config keys as in ``[tool.lora-lint]`` (e.g. ``target-peft-version``,
    ``model``, ``alpha-ratio``). For an invalid case, ``message`` is a substring the message
    must contain, ``line``/``column`` the 1-based start of the violation (when given) and
    ``fixed`` the whole source after applying this rule's fix (``None``: no fix offered).
    """

    code: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    line: int | None = None
    column: int | None = None
    fixed: str | None = None
    filename: str = "case.py"  # its name says what kind of file it is (``lint_rules.sources``)


def Valid(code: str, *, filename: str = "case.py", **settings: Any) -> Case:
    return Case(code=code, settings=settings, filename=filename)


def Invalid(code: str, *, message: str | None = None, line: int | None = None,
            column: int | None = None, fixed: str | None = None, filename: str = "case.py",
            **settings: Any) -> Case:
    return Case(code=code, settings=settings, message=message, line=line, column=column, fixed=fixed,
                filename=filename)


@dataclass
class Finding:
    """What ``Rule.check`` yields; the engine turns it into a ``Violation``.

    ``node`` gives the position. ``replacements`` maps nodes of the parsed module to their
    new versions (libcst nodes, or ``libcst.RemovalSentinel.REMOVE``); empty means no fix.
    ``severity`` lowers this finding below the rule's ``SEVERITY`` (a rule reporting a
    certain failure and a likely mistake); a severity configured for the rule still wins.
    """

    node: "cst.CSTNode"
    message: str
    replacements: Mapping["cst.CSTNode", Any] = field(default_factory=dict)
    fix_message: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class RuleContext:
    """What a rule knows besides the call: settings resolved once per run or project."""

    filename: str
    peft_spec: str  # PEP 440 specifier the code is checked against ("" = any release)
    peft_spec_source: str  # e.g. "--target-peft-version", "pyproject.toml", "installed peft"
    peft_versions: tuple[str, ...]  # releases allowed by peft_spec, ascending, never empty
    model: str | None = None  # `model` from [tool.lora-lint]
    transformers: str | None = None  # specifier or version choosing the architecture data
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by rule code
    source_kind: str = "python"  # what the file is: "python" (notebooks too) or a config file's KINDS entry
    added_tokens: tuple[str, ...] = ()  # a trainer YAML's keys that add tokens to the tokenizer (LORA008)

    def option(self, rule: type["Rule"] | "Rule", key: str) -> Any:
        """A per-rule option: the configured value, else the rule's default."""
        return self.options.get(rule.CODE, {}).get(key, rule.OPTIONS[key])


class Rule:
    CODE: ClassVar[str]
    NAME: ClassVar[str]
    SEVERITY: ClassVar[str] = "error"
    SUMMARY: ClassVar[str]  # one line for `lora-lint rules`
    FIX: ClassVar[str | None] = None  # None | "safe" | "unsafe"
    DEFAULT_ENABLED: ClassVar[bool] = True
    OPTIONS: ClassVar[Mapping[str, Any]] = {}  # per-rule options and their defaults
    CHECKS_IMPORTED: ClassVar[bool] = False  # also checks configs another module of the project
    # makes and the file applies to a model (``LoraCall.origin``); that module reports the rest
    # Names the rule needs to see called (``LoraConfig(...)``, ``peft.LoraConfig(...)``, an import
    # alias of it), and keywords it needs to see passed (``peft_config=``): a file with none of the
    # enabled rules' triggers is not parsed with libcst (``lint_rules.prefilter``). Both empty: any file.
    TRIGGERS: ClassVar[tuple[str, ...]] = ()
    KEYWORD_TRIGGERS: ClassVar[tuple[str, ...]] = ()
    # Keywords of a ``from_pretrained`` call loading a model from a static id that the rule needs
    # to see (``trust_remote_code``); with TRIGGERS, what the prefilter looks for.
    LOAD_TRIGGERS: ClassVar[tuple[str, ...]] = ()
    # Names of which the file must also call one for the rule's check to run at all (a trainer's
    # ``train``, a loop's ``backward``): without one, its TRIGGERS do not make a file worth parsing.
    NEEDS_CALLED: ClassVar[tuple[str, ...]] = ()
    # A rule about other calls than LoraConfig's (``from_pretrained``): the engine calls its
    # ``check_file`` once per parsed file instead of ``check`` per config.
    PER_FILE: ClassVar[bool] = False
    # The kinds of file (``KINDS``) whose settings the rule checks; None: every kind.
    SOURCES: ClassVar[tuple[str, ...] | None] = None
    VALID: ClassVar[list[Case]] = []
    INVALID: ClassVar[list[Case]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _CODE_RE.match(cls.CODE):
            raise ValueError(f"{cls.__name__}: code {cls.CODE!r} is not LORA + 3 digits")
        if not _NAME_RE.match(cls.NAME):
            raise ValueError(f"{cls.__name__}: name {cls.NAME!r} is not kebab-case")
        if isinstance(cls.TRIGGERS, str) or not all(t.isidentifier() for t in cls.TRIGGERS):
            raise ValueError(f"{cls.__name__}: TRIGGERS {cls.TRIGGERS!r} is not a tuple of names")
        if isinstance(cls.KEYWORD_TRIGGERS, str) or not all(t.isidentifier() for t in cls.KEYWORD_TRIGGERS):
            raise ValueError(f"{cls.__name__}: KEYWORD_TRIGGERS {cls.KEYWORD_TRIGGERS!r} is not a tuple of names")
        if isinstance(cls.NEEDS_CALLED, str) or not all(t.isidentifier() for t in cls.NEEDS_CALLED):
            raise ValueError(f"{cls.__name__}: NEEDS_CALLED {cls.NEEDS_CALLED!r} is not a tuple of names")
        if isinstance(cls.LOAD_TRIGGERS, str) or not all(t.isidentifier() for t in cls.LOAD_TRIGGERS):
            raise ValueError(f"{cls.__name__}: LOAD_TRIGGERS {cls.LOAD_TRIGGERS!r} is not a tuple of names")
        if cls.SOURCES is not None and not set(cls.SOURCES) <= set(KINDS):
            raise ValueError(f"{cls.__name__}: SOURCES {cls.SOURCES!r} names a kind not in {KINDS}")
        if cls.SEVERITY not in SEVERITIES:
            raise ValueError(f"{cls.__name__}: unknown severity {cls.SEVERITY!r}")
        other = REGISTRY.get(cls.CODE)
        if other is not None and other.__qualname__ != cls.__qualname__:
            raise ValueError(f"{cls.CODE} is used by both {other.__name__} and {cls.__name__}")
        REGISTRY[cls.CODE] = cls

    @classmethod
    def reports_under(cls, ctx: "RuleContext") -> bool:
        """``False`` when the versions ``ctx`` checks against leave the rule nothing to report (a
        mistake only some releases punish, none of which the project allows): a run's prefilter
        leaves its triggers out, so a file only it could look at is not parsed."""
        return True

    def check(self, call: Any, ctx: Any) -> Iterator[Finding]:
        """Yield findings for one collected ``LoraConfig`` call (``lint_rules.analysis.LoraCall``)."""
        raise NotImplementedError

    def check_file(self, calls: Any, ctx: Any) -> Iterator[Finding]:
        """Yield findings for a whole file (``PER_FILE`` rules): ``calls`` is what the analysis
        found (``lint_rules.analysis.Calls``), ``calls.index`` the file's ``FileIndex``."""
        raise NotImplementedError

    @classmethod
    def url(cls) -> str:
        return DOCS_URL.format(code=cls.CODE)
