"""What LORA001 and LORA002 share: peft's matching of a call's ``target_modules``."""
from __future__ import annotations

from typing import Any, NamedTuple

from ..analysis import UNKNOWN, Keyword, LoraCall
from ..knowledge.matching import MatchResult, match_target_modules
from ..rule import RuleContext
from ._common import highest, listing


class Targets(NamedTuple):
    """The match on the newest allowed transformers (``result``) and on the older ones."""

    keyword: Keyword
    value: str | list[str]
    result: MatchResult
    others: tuple[MatchResult, ...] = ()

    @property
    def any_match(self) -> bool:
        """Whether some allowed transformers version has a module to adapt."""
        return self.result.any_match or any(other.any_match for other in self.others)

    @property
    def unmatched(self) -> list[str]:
        """Entries that match nothing in any allowed transformers version."""
        return [e for e in self.result.unmatched if all(e in other.unmatched for other in self.others)]


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
    results = [match_target_modules(value, arch, peft_version=highest(ctx),
                                    task_type=task_type if isinstance(task_type, str) else None, **extra)
               for arch in (call.model.architecture, *call.model.others)]
    if any(result.error for result in results):
        return None
    return Targets(keyword, value, results[0], tuple(results[1:]))


def targetable(call: LoraCall) -> str:
    """The model's adaptable module names (leaf names, output head left out)."""
    return listing(m.leaf for m in call.model.architecture.targetable() if not m.is_head)


def model_words(call: LoraCall) -> str:
    model = call.model
    return f"{model.name} ({model.architecture.class_name}, {model.source})"
