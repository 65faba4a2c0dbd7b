"""Small rules and a minimal call collector for testing the engine apart from the real rules."""
from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import pytest
from packaging.specifiers import SpecifierSet

from lint_rules import engine
from lint_rules.catalog import all_rules
from lint_rules.rule import REGISTRY, Finding, Rule

PEFT_RELEASES = ["0.10.0", "0.11.0", "0.12.0"]


@dataclass
class FakeCall:
    node: cst.Call
    keywords: dict[str, cst.Arg]


class _Collector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[FakeCall] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.value if isinstance(func, cst.Name) else getattr(getattr(func, "attr", None), "value", None)
        if name == "LoraConfig":
            self.calls.append(FakeCall(node, {a.keyword.value: a for a in node.args if a.keyword}))


def fake_collect_calls(wrapper, ctx):
    collector = _Collector()
    wrapper.module.visit(collector)
    return collector.calls


def _define_rules() -> None:
    class RankZero(Rule):
        """Test rule: ``r=0``."""

        CODE = "LORA990"
        NAME = "test-rank-zero"
        SEVERITY = "error"
        SUMMARY = "r is zero"
        TRIGGERS = ("LoraConfig",)
        FIX = "safe"

        def check(self, call, ctx):
            arg = call.keywords.get("r")
            if arg is not None and isinstance(arg.value, cst.Integer) and arg.value.value == "0":
                yield Finding(arg.value, "r must be positive", {arg.value: cst.Integer("8")}, "Set r=8")

    class DropBias(Rule):
        """Test rule: ``bias="all"``, removed by an unsafe fix."""

        CODE = "LORA991"
        NAME = "test-bias-all"
        SEVERITY = "warning"
        SUMMARY = "bias is all"
        TRIGGERS = ("LoraConfig",)
        FIX = "unsafe"

        def check(self, call, ctx):
            arg = call.keywords.get("bias")
            if arg is not None and isinstance(arg.value, cst.SimpleString) and arg.value.value == '"all"':
                yield Finding(arg, 'bias="all" trains every bias', {arg: cst.RemovalSentinel.REMOVE}, "Remove bias")

    class EveryCall(Rule):
        """Test rule, off by default: every call, as info."""

        CODE = "LORA992"
        NAME = "test-every-call"
        SEVERITY = "info"
        SUMMARY = "a call"
        TRIGGERS = ("LoraConfig",)
        DEFAULT_ENABLED = False
        OPTIONS = {"label": "call"}

        def check(self, call, ctx):
            yield Finding(call.node, f"{ctx.option(self, 'label')} found")

    class Breaker(Rule):
        """Test rule, off by default: a fix that would not parse."""

        CODE = "LORA993"
        NAME = "test-breaker"
        SUMMARY = "breaks"
        TRIGGERS = ("LoraConfig",)
        FIX = "safe"
        DEFAULT_ENABLED = False

        def check(self, call, ctx):
            yield Finding(call.node, "break it", {call.node: cst.Name("def")})


@pytest.fixture
def fake_rules(monkeypatch):
    """Only the test rules above (and LORA000), a fake collector, and a fake release list if needed."""
    all_rules()
    saved = dict(REGISTRY)
    syntax = REGISTRY["LORA000"]
    REGISTRY.clear()
    REGISTRY["LORA000"] = syntax
    _define_rules()
    import lint_rules.analysis as analysis
    import lint_rules.knowledge.peft_releases as releases
    import lint_rules.project as project

    monkeypatch.setattr(analysis, "collect_calls", fake_collect_calls)
    monkeypatch.setattr(releases, "versions_in", lambda spec: [v for v in PEFT_RELEASES if v in SpecifierSet(spec)])
    monkeypatch.setattr(releases, "installed_version", lambda: None)
    monkeypatch.setattr(releases, "newest", lambda: PEFT_RELEASES[-1])
    monkeypatch.setattr(project, "detect_requirement", lambda start, package="peft": None)
    engine._linter.cache_clear()
    yield
    engine._linter.cache_clear()
    REGISTRY.clear()
    REGISTRY.update(saved)
