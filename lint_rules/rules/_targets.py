"""What LORA001 and LORA002 share: peft's matching of a call's ``target_modules``."""
from __future__ import annotations

from typing import Any, NamedTuple

from ..analysis import UNKNOWN, Keyword, LoraCall
from ..knowledge.matching import MatchResult, match_target_modules
from ..rule import RuleContext
from ._common import highest, listing


class Targets(NamedTuple):
    keyword: Keyword
    value: str | list[str]
    result: MatchResult


def _strings(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (list, tuple, set)) and bool(value) and all(isinstance(v, str) for v in value))


def match(call: LoraCall, ctx: RuleContext) -> Targets | None:
    """The match of an explicit ``target_modules`` on the call's known model, else ``None``
    (unknown model or values, ``target_parameters``, or a matching error of its own)."""
    keyword = call.get("target_modules")
    if call.model is None or keyword is None or not _strings(keyword.value):
        return None
    if call.get("target_parameters") is not None:
        return None
    extra = {name: call.value(name, {name: None}) for name in ("exclude_modules", "modules_to_save")}
    task_type = call.value("task_type", {"task_type": None})
    if UNKNOWN in (*extra.values(), task_type) or call.value("layers_to_transform", {
            "layers_to_transform": None}) is not None:
        return None
    value = keyword.value if isinstance(keyword.value, str) else sorted(keyword.value) \
        if isinstance(keyword.value, set) else list(keyword.value)
    result = match_target_modules(value, call.model.architecture, peft_version=highest(ctx),
                                  task_type=task_type if isinstance(task_type, str) else None, **extra)
    return None if result.error else Targets(keyword, value, result)


def targetable(call: LoraCall) -> str:
    """The model's adaptable module names (leaf names, output head left out)."""
    return listing(m.leaf for m in call.model.architecture.targetable() if not m.is_head)


def model_words(call: LoraCall) -> str:
    model = call.model
    return f"{model.name} ({model.architecture.class_name}, {model.source})"
