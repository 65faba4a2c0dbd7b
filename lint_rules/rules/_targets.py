"""What LORA001 and LORA002 share: peft's matching of a call's ``target_modules``."""
from __future__ import annotations

import os
from typing import Any, NamedTuple

from ..analysis import UNKNOWN, Keyword, LoraCall, ModelInfo
from ..knowledge.matching import MatchResult, match_target_modules
from ..rule import RuleContext
from ._common import highest, listing


class Targets(NamedTuple):
    """The match on one model the config is applied to, on the newest allowed transformers
    (``result``) and on the older ones."""

    keyword: Keyword
    value: str | list[str]
    model: ModelInfo
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


def matches(call: LoraCall, ctx: RuleContext) -> list[Targets]:
    """The match of an explicit ``target_modules`` on each model the config is applied to;
    none for unknown models or values, ``target_parameters``, or a matching error of its own."""
    keyword = call.get("target_modules")
    if not call.models or keyword is None or not _strings(keyword.value):
        return []
    if call.get("target_parameters") is not None:
        return []
    if isinstance(keyword.value, str) and ctx.source_kind != "python":
        return []  # a regex names whole module paths, whose prefix depends on the class that loads the
        # model: a config file does not say which (Qwen2-VL's `model.language_model.` is ForConditionalGeneration's)
    keep = options(call)
    if keep is None:
        return []
    value = keyword.value if isinstance(keyword.value, str) else sorted(keyword.value) \
        if isinstance(keyword.value, set) else list(keyword.value)
    found = []
    for model in call.models:
        results = [match_target_modules(value, arch, peft_version=highest(ctx), **keep)
                   for arch in (model.architecture, *model.others)]
        if not any(result.error for result in results):
            found.append(Targets(keyword, value, model, results[0], tuple(results[1:])))
    return found


def outside(call: LoraCall, ctx: RuleContext, found: Targets, entries: list[str] | str) -> str:
    """``outside_note`` for target_modules ``entries`` that match nothing in the transformers
    checked: where another version's data has modules they match."""
    from ._models import outside_note

    keep = options(call)
    if keep is None:
        return ""

    def has(arch: Any) -> bool:
        result = match_target_modules(entries, arch, peft_version=highest(ctx), **keep)
        return not result.error and (result.any_match if isinstance(entries, str) else
                                     not set(entries) & set(result.unmatched))

    return outside_note(found.model, ctx, has)


def options(call: LoraCall, layers: bool = False) -> dict[str, Any] | None:
    """The call's other keywords that peft's matching reads; ``None`` when one is unknown.

    ``layers_to_transform``/``layers_pattern`` only with ``layers``: LORA001/002 judge an entry
    by the names it matches in any layer (which layers are selected is LORA006's question)."""
    names = ("exclude_modules", "modules_to_save", *(("layers_to_transform", "layers_pattern") if layers else ()))
    extra = {name: call.value(name, {name: None}) for name in names}
    task_type = call.value("task_type", {"task_type": None})
    if UNKNOWN in (*extra.values(), task_type):
        return None
    return {**extra, "task_type": task_type if isinstance(task_type, str) else None}


def would_match(call: LoraCall, ctx: RuleContext, model: ModelInfo, value: list[str]) -> bool:
    """Whether ``target_modules=value`` would adapt something on ``model``, the call's other
    keywords (``exclude_modules``, ``modules_to_save``, ``task_type``) unchanged."""
    keep = options(call)
    return keep is not None and match_target_modules(
        value, model.architecture, peft_version=highest(ctx), **keep).any_match


def targetable(model: ModelInfo) -> str:
    """The model's adaptable module names (leaf names, output head left out)."""
    return listing(m.leaf for m in model.architecture.targetable() if not m.is_head)


def model_words(call: LoraCall, model: ModelInfo) -> str:
    """The model and how it was found; for a config another module makes, that module."""
    words = f"{model.name} ({model.architecture.class_name}, {model.source}"
    if call.origin is not None:
        words += f"; the LoraConfig is made in {_shown(call.origin)}"
    return words + ")"


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative
