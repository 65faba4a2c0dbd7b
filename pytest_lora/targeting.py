"""peft's rules for which modules and parameters of a live model a LoraConfig adapts.

Facts read from peft (0.21): a list entry matches a module named exactly like it or ending in
``.entry``; a string is a regex ``fullmatch``-ed against the full name (and then
``layers_to_transform`` is not consulted); ``exclude_modules`` and ``modules_to_save`` win over
targets; ``"all-linear"`` is every Linear/Conv1D but the output head; ``rank_pattern`` keys are
regexes matched against the end of the name.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

# peft adds these to modules_to_save for the matching task types.
TASK_HEADS = {"SEQ_CLS": ["classifier", "score"], "TOKEN_CLS": ["classifier", "score"],
              "QUESTION_ANS": ["qa_outputs"]}
SEQ_CLS_HEADS = ("score", "classifier")


@dataclass(frozen=True)
class Target:
    """One adapted module (``parameter`` is set for ``target_parameters``) and its rank."""

    name: str
    module: object
    rank: int
    parameter: str | None = None


def lora_config(config):
    """A private copy of ``config`` (a LoraConfig or its keyword arguments) as a LoraConfig."""
    from peft import LoraConfig

    if isinstance(config, dict):
        return LoraConfig(**copy.deepcopy(config))
    return copy.deepcopy(config)


def unwrap(model):
    """(the model peft adapts, the active adapter's config or None) for a model or a PeftModel."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.base_model.model, model.peft_config[model.active_adapter]
    return model, None


def _original(module):
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    while True:
        if isinstance(module, BaseTunerLayer):
            module = module.base_layer
        elif isinstance(module, AuxiliaryTrainingWrapper):
            module = module.original_module
        else:
            return module


def original_modules(model):
    """``named_modules()`` of the model as it was before any adapter was injected."""
    seen: set[int] = set()

    def walk(module, prefix):
        module = _original(module)
        if id(module) in seen:
            return
        seen.add(id(module))
        yield prefix, module
        for child_name, child in module.named_children():
            yield from walk(child, f"{prefix}.{child_name}" if prefix else child_name)

    yield from walk(model, "")


def modules_to_save(config) -> list[str]:
    """``modules_to_save`` as peft uses it, the task type's heads included."""
    entries = list(config.modules_to_save or [])
    for head in TASK_HEADS.get(str(getattr(config.task_type, "value", config.task_type)), []):
        if head not in entries:
            entries.append(head)
    return entries


def saved_module_names(names, entries) -> list[str]:
    """Modules wrapped for ``modules_to_save``: peft tests ``name.endswith(entry)``, nested ones included."""
    return [name for name in names if name and any(name.endswith(entry) for entry in entries)]


def _is_saved(name: str, entries) -> bool:
    return any(re.match(rf"(^|.*\.){entry}($|\..*)", name) for entry in entries)


def _is_excluded(name: str, exclude) -> bool:
    if not exclude:
        return False
    if isinstance(exclude, str):
        return re.fullmatch(exclude, name) is not None
    return name in exclude or any(name.endswith(f".{entry}") for entry in exclude)


def _layer_index(name: str, layers_pattern) -> int | None:
    if not layers_pattern:
        found = re.match(r".*?\.[^.]*\.(?P<idx>\d+)\.", name)
    else:
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern
        found = None
        for pattern in patterns:
            found = re.match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", name)
            if found:
                break
    return int(found.group("idx")) if found else None


def is_target(name: str, config) -> bool:
    """Whether peft adapts the module ``name`` (exclusions not included)."""
    targets = config.target_modules
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    if name in targets:
        return True
    if not any(name.endswith(f".{entry}") for entry in targets):
        return False
    layers = config.layers_to_transform
    if layers is None or (isinstance(layers, list) and not layers):
        return True
    index = _layer_index(name, config.layers_pattern)
    if index is None:
        return False
    return index == layers if isinstance(layers, int) else index in layers


def rank_for(name: str, config) -> int:
    """``r``, or the rank of the first ``rank_pattern`` key matching the end of ``name``."""
    for pattern, rank in (config.rank_pattern or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", name):
            return rank
    return config.r


def _all_linear(model, named, config) -> set[str]:
    import torch
    from transformers.pytorch_utils import Conv1D

    names = {name for name, module in named if isinstance(module, (torch.nn.Linear, Conv1D))}
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None and str(getattr(config.task_type, "value", config.task_type)) == "SEQ_CLS":
        head = next((getattr(model, n) for n in SEQ_CLS_HEADS if getattr(model, n, None) is not None), None)
    if head is not None:
        names -= {name for name, module in named if module is head}
    return names


def _convert_moe_targets(model, config) -> None:
    """peft (for transformers 5) retargets v4 expert names of fused MoE models; reuse its conversion."""
    try:
        from peft.utils.transformers_weight_conversion import (
            convert_peft_config_for_transformers,
            get_model_conversion_mapping,
        )
    except ImportError:  # peft before transformers 5 support: nothing to convert
        return
    if hasattr(getattr(model, "config", None), "model_type"):
        convert_peft_config_for_transformers(config, model=model, conversions=get_model_conversion_mapping(model))


def resolve_targets(model, config) -> tuple[list[Target], list[str]]:
    """(adapted modules and parameters, names of the modules wrapped for ``modules_to_save``)."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    named = list(original_modules(model))
    config = copy.deepcopy(config)
    _convert_moe_targets(model, config)
    saved_entries = modules_to_save(config)
    if config.target_modules is None and not config.target_parameters:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type not in DEFAULTS:
            raise ValueError("Please specify `target_modules` or `target_parameters` in `peft_config`")
        config.target_modules = set(DEFAULTS[model_type])
    if isinstance(config.target_modules, str) and config.target_modules.lower() == "all-linear":
        config.target_modules = _all_linear(model, named, config)

    targets: list[Target] = []
    if config.target_modules is not None:
        for name, module in named:
            if not name or _is_excluded(name, config.exclude_modules) or _is_saved(name, saved_entries):
                continue
            if is_target(name, config):
                targets.append(Target(name, module, rank_for(name, config)))
    if config.target_parameters:
        wanted = set(config.target_parameters)
        for name, module in named:
            for param_name, _ in module.named_parameters(recurse=False):
                key = f"{name}.{param_name}"
                if key in wanted or any(key.endswith(f".{entry}") for entry in wanted):
                    targets.append(Target(name, module, rank_for(key, config), param_name))
    if not targets:
        raise ValueError(f"target_modules={config.target_modules!r} and target_parameters="
                         f"{config.target_parameters!r} match nothing in the model (peft raises here too)")
    saved = saved_module_names([name for name, _ in named], saved_entries) if saved_entries else []
    _check_saved(saved, dict(named), {target.name for target in targets if target.parameter is None})
    return targets, saved


def _check_saved(saved, modules, adapted) -> None:
    """peft refuses to wrap containers, or modules it has just given a LoRA layer, for ``modules_to_save``."""
    import torch

    containers = (torch.nn.ModuleDict, torch.nn.ModuleList, torch.nn.ParameterDict, torch.nn.ParameterList)
    for name in saved:
        if isinstance(modules[name], containers) or name in adapted:
            kind = "a LoRA layer" if name in adapted else type(modules[name]).__name__
            raise TypeError(f"modules_to_save cannot be applied to {name!r}: it is {kind}")
