"""lora-lint's explanation of a config that adapts nothing, for a live model (used by ``lora_apply``)."""
from __future__ import annotations

import re
from collections import defaultdict

from lint_rules.knowledge.architectures import TARGETABLE, Architecture, Module
from lint_rules.knowledge.matching import suggest_equivalent

_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")
_PLACEHOLDERS = "ijklmn"


def _pattern(name: str) -> tuple[str, list[int]]:
    """``model.layers.3.mlp`` -> (``model.layers.{i}.mlp``, [3])."""
    indices: list[int] = []

    def placeholder(match: re.Match) -> str:
        indices.append(int(match.group()))
        return "{" + _PLACEHOLDERS[len(indices) - 1] + "}"

    return _INDEX.sub(placeholder, name), indices


def live_architecture(model) -> Architecture:
    """The knowledge base's view of a live model: its adaptable modules, by name pattern."""
    from pytest_lora.targeting import original_modules

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    seen: dict[tuple[str, str], list[set[int]]] = {}
    heads: set[str] = set()
    for name, module in original_modules(model):
        kind = type(module).__name__
        if not name or kind not in TARGETABLE or len(_INDEX.findall(name)) > len(_PLACEHOLDERS):
            continue
        pattern, indices = _pattern(name)
        specs = seen.setdefault((pattern, kind), [set() for _ in indices])
        for spec, index in zip(specs, indices):
            spec.add(index)
        if module is head:
            heads.add(pattern)
    modules = tuple(Module(pattern, kind, pattern in heads, tuple(tuple(sorted(spec)) for spec in specs))
                    for (pattern, kind), specs in seen.items())
    config = getattr(model, "config", None)
    return Architecture(getattr(config, "model_type", "") or "", type(model).__name__, "installed", None, modules)


def explain_no_match(model, target_modules) -> str:
    """Why ``target_modules`` adapts nothing in ``model`` and what it is called there (as LORA001 says)."""
    arch = live_architecture(model)
    entries = [target_modules] if isinstance(target_modules, str) else sorted(target_modules or ())
    leaves = ", ".join(sorted({m.leaf for m in arch.targetable() if not m.is_head})) or "none"
    shown = target_modules if isinstance(target_modules, str) else entries
    message = f"no module of {arch.class_name} matches target_modules={shown!r}"
    suggestion = None if isinstance(target_modules, str) else suggest_equivalent(entries, arch)
    if suggestion:
        return f"{message}: the equivalent here is target_modules={suggestion!r} (targetable modules: {leaves})"
    return f"{message}: name some of its targetable modules: {leaves}"
