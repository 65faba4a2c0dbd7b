"""assert_targets_cover: the adapter reaches the modules it must and none it must not."""
from __future__ import annotations

from fnmatch import fnmatchcase

from pytest_lora.extras import require_models

_SHOWN = 8


def adapted_modules(peft_model) -> list[str]:
    """Names (without peft's prefix) of the modules the active adapter changes: LoRA layers,
    ``target_parameters`` wrappers, ``modules_to_save`` and trainable-token wrappers."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    from pytest_lora.trained import short_name

    names = []
    for name, module in peft_model.named_modules():
        if isinstance(module, (BaseTunerLayer, AuxiliaryTrainingWrapper)):
            name = short_name(name)
            while name.endswith(".base_layer"):  # a parameter wrapper nested in another
                name = name.removesuffix(".base_layer")
            if name not in names and not any(name.startswith(f"{outer}.") for outer in names):
                names.append(name)
    return names


def covers(pattern: str, name: str, *, at_end: bool = False) -> bool:
    """Whether the dotted ``pattern`` (``*`` and ``?`` within a name part) is a run of ``name``'s parts:
    ``experts`` is under ``model.layers.0.mlp.experts``, ``layers.*.mlp`` under any layer's MLP.
    ``at_end``: the run must end ``name`` (the module itself, not one inside it)."""
    want, parts = pattern.split("."), name.split(".")
    starts = range(len(parts) - len(want), len(parts) - len(want) + 1) if at_end else range(len(parts) - len(want) + 1)
    return any(start >= 0 and all(fnmatchcase(part, w) for part, w in zip(parts[start:start + len(want)], want))
               for start in starts)


def _unreached(model, pattern: str) -> str:
    """Modules of the model that ``pattern`` names, with their type and own parameters."""
    from pytest_lora.targeting import original_modules, unwrap

    base, _ = unwrap(model)
    found = [(name, module) for name, module in original_modules(base) if name and covers(pattern, name, at_end=True)]
    if not found:
        return f"  (no module of the model is named like {pattern!r})"
    lines = []
    for name, module in found[:3]:
        params = [leaf for leaf, _ in module.named_parameters(recurse=False)]
        own = f", parameters {', '.join(params)} (reach them with target_parameters)" if params else ""
        lines.append(f"  {name}: {type(module).__name__}{own}")
    return "\n".join(lines)


def assert_targets_cover(peft_model, expect=(), forbid=()) -> list[str]:
    """Assert each ``expect`` pattern names at least one adapted module and no ``forbid`` pattern
    names any; returns the adapted modules.

    A pattern is a dotted run of module-name parts, ``*``/``?`` wildcards within a part:
    ``"experts"``, ``"language_model"``, ``"layers.*.self_attn.q_proj"``. Adapted modules are LoRA
    layers, ``target_parameters`` wrappers, ``modules_to_save`` copies and trainable-token wrappers.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    expect = [expect] if isinstance(expect, str) else list(expect)
    forbid = [forbid] if isinstance(forbid, str) else list(forbid)
    adapted = adapted_modules(peft_model)
    problems = []
    for pattern in expect:
        if not any(covers(pattern, name) for name in adapted):
            problems.append(f"expected an adapter under {pattern!r}, none is there; the model's modules "
                            f"named so:\n{_unreached(peft_model, pattern)}")
    for pattern in forbid:
        hits = [name for name in adapted if covers(pattern, name)]
        if hits:
            shown = [f"  {name}" for name in hits[:_SHOWN]]
            if len(hits) > _SHOWN:
                shown.append(f"  ... and {len(hits) - _SHOWN} more")
            problems.append(f"{pattern!r} must not be adapted, but {len(hits)} adapted module(s) are under it:\n"
                            + "\n".join(shown))
    if problems:
        listing = ", ".join(adapted[:_SHOWN]) + (f", ... ({len(adapted)} in all)" if len(adapted) > _SHOWN else "")
        raise AssertionError("\n".join(problems) + f"\nadapted modules: {listing or 'none'}")
    return adapted
