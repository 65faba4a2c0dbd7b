"""LORA004 invalid-value: a LoraConfig value that peft rejects, or accepts and then ignores."""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Iterator

import libcst as cst

from ..analysis import Keyword, LoraCall
from ..knowledge import peft_releases
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import lowest, newer, value_node

Outcome = Callable[[str], "str | None"]  # release -> what peft does there (None: fine there)
_NO_ADAPTER = "it silently adds no LoRA weights (nothing trains)"


class InvalidValue(Rule):
    """A ``LoraConfig`` value outside what peft accepts, judged per allowed peft release.

    What: ``r`` (or a ``rank_pattern`` value) that is not a positive integer; ``lora_dropout``
    outside [0, 1); ``bias`` that is not one of the release's values; ``task_type`` that is
    not a ``TaskType`` member (a string or ``TaskType.X``); an ``init_lora_weights`` string
    the release does not know; ``use_dora=True`` with ``lora_bias=True``; a ``target_modules``
    string that is not a valid regular expression; a negative ``layers_to_transform``.
    Only values known statically are judged: a value from a variable that may hold
    anything, a call behind a runtime peft version check, or another library's
    ``LoraConfig`` is never reported. Values that only a newer peft knows are LORA102's.
    Why: each costs a model load. What peft does, per release, comes from its source:
    ``LoraConfig()`` raises (``task_type`` from 0.14.0, DoRA with ``lora_bias``), or
    ``get_peft_model()`` raises once the model is loaded (``r=0`` from 0.6.0, ``bias="lora"``,
    ``lora_dropout=1.5``, an unknown init, an invalid regex, ``layers_to_transform=[-1]``,
    which matches no layer: peft never counts layers from the end), or nothing is said
    and training is wrong: ``r=0`` before 0.6.0 adds no weights, a ``task_type`` typo
    before 0.14.0 gives a plain PeftModel (a ``SEQ_CLS`` head is then neither trained nor
    saved), ``lora_dropout=1.0`` zeroes every input of the adapter, a negative dropout
    means none, ``[0, -1]`` adapts layer 0 only.
    In the wild: huggingface/peft#2203 (``task_type="CUASAL_LM"`` accepted silently) and
    huggingface/peft#2210 (the check added in 0.14.0); huggingface/peft#2528, #1589, #2507,
    mll-lab-nu/RAGEN#100, ContextualAI/gritlm#21, hiyouga/LlamaFactory#10556 (invalid or
    mismatched ``task_type``); huggingface/peft#2155, #2159, #2169 (``layers_to_transform``
    mistakes and the checks they led to); huggingface/peft#1206 and
    axolotl-ai-cloud/axolotl#2792 (regular expressions as ``target_modules``).
    Example: ``LoraConfig(task_type="CAUSAL")`` -> ``ValueError: Invalid task type``.
    Fix safety: no fix: the intended value is the author's choice (the message suggests
    the closest valid name where there is one).
    """

    CODE = "LORA004"
    NAME = "invalid-value"
    SEVERITY = "error"
    SUMMARY = "A LoraConfig value that peft rejects or silently ignores (r, dropout, bias, task_type, ...)"
    TRIGGERS = ("LoraConfig",)

    VALID = [
        Valid("from peft import LoraConfig, TaskType\n\n"
              "LoraConfig(r=16, lora_dropout=0.05, bias='lora_only', task_type=TaskType.CAUSAL_LM,\n"
              "           init_lora_weights='gaussian', target_modules=r'.*\\.(q|v)_proj',\n"
              "           layers_to_transform=[0, 1], rank_pattern={'q_proj': 4})\n"),
        # a dynamic value, and a computed regex: nothing to prove
        Valid("import sys\nfrom peft import LoraConfig\n\nnames = sys.argv[1:]\n"
              "LoraConfig(r=int(sys.argv[1]), target_modules=f\".*({'|'.join(names)})\")\n"),
        # a version-guarded value: the other branch is what older peft gets
        Valid("import peft\nfrom peft import LoraConfig\n\n"
              "if peft.__version__ >= '0.14':\n    config = LoraConfig(r=8, task_type='CAUSAL')\n"),
        # another library's LoraConfig subclass or namesake
        Valid("from mylib import LoraConfig\n\nLoraConfig(r=0, bias='lora', task_type='CAUSAL')\n"),
        Valid("import peft\n\nclass MyLora(peft.LoraConfig):\n    pass\n\nMyLora(r=0)\n"),
        # a value only a newer peft knows: LORA102's finding, not this rule's
        Valid("from peft import LoraConfig\n\nLoraConfig(init_lora_weights='olora')\n",
              **{"target-peft-version": ">=0.11"}),
        # DoRA and a LoRA bias, each on its own
        Valid("from peft import LoraConfig\n\nLoraConfig(use_dora=True, lora_bias=False)\n"),
        # 'all-linear' is peft's shorthand, and a list entry is a name, not a regex
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules='all-linear')\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn[', 'q_proj'])\n"),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=0, lora_alpha=16)\n",
                message="get_peft_model() raises ValueError", line=3, column=14),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=0, lora_alpha=16)\n",
                message="in peft 0.3.0 to 0.5.0, it silently adds no LoRA weights",
                **{"target-peft-version": ">=0.3,<0.7"}),
        Invalid("from peft import LoraConfig\n\nRANK = 8.0\nLoraConfig(r=RANK)\n",
                message="`r=8.0` is not a positive integer", line=4, column=14),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, rank_pattern={'q_proj': 16, 'v_proj': 0})\n",
                message="`rank_pattern` gives `v_proj` r=0", line=3, column=55),
        Invalid("from peft import LoraConfig\n\nLoraConfig(lora_dropout=1.5)\n",
                message="get_peft_model() raises ValueError", line=3, column=25),
        Invalid("from peft import LoraConfig\n\nLoraConfig(lora_dropout=1.0)\n",
                message="zeroes every input of the adapter"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(lora_dropout=-0.1)\n",
                message="no dropout at all"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(bias='lora')\n",
                message="get_peft_model() raises NotImplementedError", line=3, column=17),
        Invalid("from peft import LoraConfig\n\nLoraConfig(bias=False)\n",
                message="raises AttributeError"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, task_type='CAUSAL')\n",
                message="LoraConfig() raises ValueError; did you mean `CAUSAL_LM`", line=3, column=27),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, task_type='CAUSAL')\n",
                message="in peft 0.13.2, get_peft_model() silently returns a plain PeftModel",
                **{"target-peft-version": ">=0.13.2,<0.15"}),
        Invalid("from peft import LoraConfig, TaskType\n\nLoraConfig(task_type=TaskType.CAUSAL)\n",
                message="it raises AttributeError when this line runs", line=3, column=22),
        Invalid("from peft import LoraConfig\n\nLoraConfig(init_lora_weights='gausian')\n",
                message="raises ValueError (Unknown initialization); did you mean `gaussian`?"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(init_lora_weights='gausian')\n",
                message="in peft 0.6.2, it silently uses the default initialisation",
                **{"target-peft-version": ">=0.6.2,<0.8"}),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, use_dora=True, lora_bias=True)\n",
                message="LoraConfig() raises ValueError", line=3, column=42),
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=r'.*\\.(q_proj|v_proj')\n",
                message="not a valid regular expression"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj'], layers_to_transform=[-1])\n",
                message="never counts layers from the end", line=3, column=59),
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj'], layers_to_transform=[0, -1])\n",
                message="silently adapts only the other layers"),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        checks = (self._rank, self._rank_pattern, self._dropout, self._bias, self._task_type,
                  self._init, self._dora_bias, self._regex, self._layers)
        for check in checks:
            yield from check(call, ctx)

    # -- one check per keyword ---------------------------------------------------------

    def _rank(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "r")
        if keyword is not None and _bad_rank(keyword.value):
            yield from _maybe(value_node(keyword), f"`r={keyword.value!r}` is not a positive integer",
                              _rank_outcome(keyword.value), ctx, "r")

    def _rank_pattern(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "rank_pattern")
        if keyword is None or not isinstance(keyword.value, dict):
            return
        for key, rank in keyword.value.items():
            if _bad_rank(rank):
                yield from _maybe(_entry(keyword, key), f"`rank_pattern` gives `{key}` r={rank!r}, not a "
                                  f"positive integer, to the modules it matches",
                                  _rank_outcome(rank), ctx, "rank_pattern")

    def _dropout(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "lora_dropout")
        if keyword is None or isinstance(keyword.value, bool):
            return
        value = keyword.value

        def outcome(version: str) -> str | None:
            threshold = peft_releases.build_checks(version)["dropout_above"]
            if not isinstance(value, (int, float)):
                return "get_peft_model() raises TypeError when it compares it with a number"
            if value > 1:
                return "get_peft_model() raises ValueError (torch's Dropout takes 0 to 1)"
            if value == 1:
                return ("it silently zeroes every input of the adapter in training: LoRA gets no "
                        "gradient and learns nothing")
            if value < 0 and value <= threshold:
                return f"it silently makes no dropout layer (peft adds one only above {threshold:g}): no dropout at all"
            return None

        yield from _maybe(value_node(keyword), f"`lora_dropout={value!r}` is outside [0, 1)", outcome, ctx,
                          "lora_dropout")

    def _bias(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "bias")
        if keyword is None or (isinstance(keyword.value, str) and _too_new("bias", keyword.value, ctx)):
            return
        value = keyword.value

        def outcome(version: str) -> str | None:
            if peft_releases.recognizes("bias", value, version):
                return None
            raised = peft_releases.config_raises(version, {"bias"})
            if raised:
                return f"LoraConfig() raises {raised}"
            record = peft_releases.option_values("bias", version) or {}
            if not isinstance(value, str) and record.get("suffix"):
                return "get_peft_model() raises AttributeError (it calls `bias.endswith`)"
            return "get_peft_model() raises NotImplementedError"

        yield from _maybe(value_node(keyword), f"`bias={value!r}` is not a bias mode of peft", outcome, ctx,
                          "bias", _closest(value, _option_names("bias", ctx)))

    def _task_type(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "task_type")
        if keyword is None or not isinstance(keyword.value, str) or _too_new("task_type", keyword.value, ctx):
            return
        value = keyword.value
        attribute = isinstance(keyword.node, cst.Attribute)

        def outcome(version: str) -> str | None:
            if peft_releases.recognizes("task_type", value, version):
                return None
            if attribute:
                return "it raises AttributeError when this line runs"
            raised = peft_releases.config_raises(version, {"task_type"})
            if raised:
                return f"LoraConfig() raises {raised}"
            if peft_releases.build_checks(version)["unknown_task_type"] == "KeyError":
                return "get_peft_model() raises KeyError"
            return ("get_peft_model() silently returns a plain PeftModel, without the task's "
                    "wrapper (a SEQ_CLS head is then neither trained nor saved)")

        subject = f"`TaskType.{value}`" if attribute else f"`task_type={value!r}`"
        members = sorted({m for v in ctx.peft_versions for m in peft_releases.task_types(v)})
        yield from _maybe(value_node(keyword), f"{subject} is not a TaskType member", outcome, ctx, "task_type",
                          _closest(value, members))

    def _init(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "init_lora_weights")
        if keyword is None or not isinstance(keyword.value, str) or not keyword.value \
                or _too_new("init_lora_weights", keyword.value, ctx):
            return
        value = keyword.value

        def outcome(version: str) -> str | None:
            if peft_releases.recognizes("init_lora_weights", value, version):
                return None
            if peft_releases.accepts("init_lora_weights", value, version):
                return "it silently uses the default initialisation"
            if peft_releases.build_checks(version)["unknown_init_raises"]:
                return "get_peft_model() raises ValueError (Unknown initialization)"
            return None

        yield from _maybe(value_node(keyword), f"`init_lora_weights={value!r}` is not an initialisation peft knows",
                          outcome, ctx, "init_lora_weights",
                          _closest(value, _option_names("init_lora_weights", ctx)))

    def _dora_bias(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        dora, bias = _known(call, "use_dora"), _known(call, "lora_bias")
        if dora is None or bias is None or dora.value is not True or bias.value is not True:
            return

        def outcome(version: str) -> str | None:
            if peft_releases.field_annotation("use_dora", version) is None:
                return None
            raised = peft_releases.config_raises(version, {"lora_bias", "use_dora"})
            return f"LoraConfig() raises {raised}" if raised else None

        yield from _maybe(value_node(bias), "`lora_bias=True` cannot be combined with `use_dora=True`", outcome, ctx,
                          "lora_bias")

    def _regex(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "target_modules")
        if keyword is None or not isinstance(keyword.value, str):
            return
        value = keyword.value
        try:
            re.compile(value)
            return
        except re.error as error:
            problem = str(error)

        def outcome(version: str) -> str | None:
            function = peft_releases.build_checks(version)["target_regex"]
            if function is None or peft_releases.is_all_linear(value, version):
                return None
            return f"get_peft_model() raises re.error when it calls re.{function}() with it"

        yield from _maybe(value_node(keyword), f"`target_modules={value!r}` is not a valid regular expression "
                          f"({problem})", outcome, ctx, "target_modules")

    def _layers(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keyword = _known(call, "layers_to_transform")
        if keyword is None:
            return
        value = keyword.value
        indices = [value] if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else []
        if any(not isinstance(i, int) or isinstance(i, bool) for i in indices):
            return
        negative = [i for i in indices if i < 0]
        if not negative:
            return
        every = len(negative) == len(indices)

        def outcome(version: str) -> str | None:
            if not every:
                return "it silently adapts only the other layers"
            error = peft_releases.not_found_error(version)
            if error:
                return f"get_peft_model() raises {error} (no layer matches)"
            return "it silently adapts no layer"

        shown = ", ".join(str(i) for i in negative)
        yield from _maybe(value_node(keyword), f"`layers_to_transform` index {shown} matches no layer: peft "
                          f"compares the indices in module names, which are never negative, and never "
                          f"counts layers from the end", outcome, ctx, "layers_to_transform")


# -- helpers -------------------------------------------------------------------------


def _known(call: LoraCall, name: str) -> Keyword | None:
    """The keyword when its value is known and not behind a version check."""
    keyword = call.get(name)
    if keyword is None or not keyword.known or call.is_guarded(name):
        return None
    return keyword


def _bad_rank(value: Any) -> bool:
    if isinstance(value, bool):
        return False  # r=True is 1 to peft; no one writes it by mistake for a rank
    return not isinstance(value, int) or value <= 0


def _rank_outcome(value: Any) -> Outcome:
    def outcome(version: str) -> str | None:
        raised = peft_releases.config_raises(version, {"r"})
        if raised:
            return f"LoraConfig() raises {raised}"
        if isinstance(value, float):
            return "get_peft_model() raises TypeError (torch takes only integer layer sizes)"
        if not isinstance(value, int):
            return "get_peft_model() raises TypeError when it compares it with 0"
        if peft_releases.build_checks(version)["rank_not_positive"] == "raises":
            return "get_peft_model() raises ValueError"
        return _NO_ADAPTER
    return outcome


def _entry(keyword: Keyword, key: Any) -> cst.CSTNode:
    """The value of one entry of a dict written in the call, else where the keyword is."""
    if keyword.arg is not None and isinstance(keyword.node, cst.Dict):
        for element in keyword.node.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) \
                    and element.key.evaluated_value == key:
                return element.value
    return value_node(keyword)


def _too_new(option: str, value: str, ctx: RuleContext) -> bool:
    """A value a release after the lowest allowed one knows: LORA102 reports it."""
    span = peft_releases.option_span(option, value)
    return span is not None and newer(span[0], lowest(ctx))


def _option_names(option: str, ctx: RuleContext) -> list[str]:
    names: set[str] = set()
    for version in ctx.peft_versions:
        record = peft_releases.option_values(option, version) or {}
        names.update(record.get("exact", ()))
        names.update(record.get("casefold", ()))
        names.update(record.get("literal", ()))
    return sorted(n for n in names if "[" not in n)


def _closest(value: Any, names: list[str]) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = {n.lower(): n for n in names}
    match = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    if not match and any(n.lower().startswith(value.lower()) for n in names):
        match = [next(n.lower() for n in names if n.lower().startswith(value.lower()))]
    return lowered[match[0]] if match else None


def _maybe(node: cst.CSTNode, subject: str, outcome: Outcome, ctx: RuleContext, field: str,
           meant: str | None = None) -> Iterator[Finding]:
    finding = _finding(node, subject, outcome, ctx, field, meant)
    if finding is not None:
        yield finding


def _finding(node: cst.CSTNode, subject: str, outcome: Outcome, ctx: RuleContext, field: str,
             meant: str | None = None) -> Finding | None:
    """A finding saying what each allowed release does, or None when every one is fine."""
    groups: list[tuple[str, str, str | None]] = []  # (first, last, outcome) over runs of releases
    for version in ctx.peft_versions:
        if peft_releases.field_annotation(field, version) is None:
            continue  # the keyword itself is too new there: LORA101's
        what = outcome(version)
        if groups and groups[-1][2] == what:
            groups[-1] = (groups[-1][0], version, what)
        else:
            groups.append((version, version, what))
    if all(what is None for _, _, what in groups):
        return None
    parts = [f"in {_span(first, last)}, {what}" for first, last, what in groups if what is not None]
    fine = [_span(first, last) for first, last, what in groups if what is None]
    message = f"{subject}; " + "; ".join(parts)
    if fine:
        message += f" ({' and '.join(fine)} accept{'s' if len(fine) == 1 else ''} it)"
    if meant is not None:
        message += f"; did you mean `{meant}`?"
    return Finding(node, message)


def _span(first: str, last: str) -> str:
    return f"peft {first}" if first == last else f"peft {first} to {last}"
