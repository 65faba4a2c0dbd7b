"""peft's rules for which modules and parameters of a live model a LoraConfig adapts.

The rules on module names (list entries, regexes, ``layers_to_transform``, ``exclude_modules``,
``modules_to_save`` and the task type's heads, what ``"all-linear"`` becomes) are those of
``lint_rules.knowledge.matching``, applied for the installed peft version. This module adds what
needs the live model: the original modules under peft's wrappers, which of them are Linear/Conv1D,
which is the output head, peft's own MoE conversion, and which saved modules are containers.
``rank_pattern`` keys are regexes matched against the end of the name.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

from lint_rules.knowledge import matching


@dataclass(frozen=True)
class Target:
    """One adapted module (``parameter`` is set for ``target_parameters``) and its rank."""

    name: str
    module: object
    rank: int
    parameter: str | None = None


def lora_config(config):
    """``config`` (a LoraConfig or its keyword arguments) as a LoraConfig; ``resolve_targets`` copies it
    before changing anything."""
    from peft import LoraConfig

    return LoraConfig(**config) if isinstance(config, dict) else config


def unwrap(model):
    """(the model peft adapts, the active adapter's config or None) for a model or a PeftModel."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.base_model.model, model.peft_config[model.active_adapter]
    return model, None


def original_module(module):
    """``module`` without the peft wrappers around it (tuner layers, modules_to_save, trainable tokens)."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    while True:
        if isinstance(module, BaseTunerLayer):
            module = module.base_layer
        elif isinstance(module, AuxiliaryTrainingWrapper):
            module = module.original_module
        else:
            return module


def adapter_parameters(layer):
    """(name under ``layer``, parameter) of each adapter weight of a peft tuner layer (``lora_A.default.weight``)."""
    for layer_name in layer.adapter_layer_names:
        for param_name, param in getattr(layer, layer_name).named_parameters():
            yield f"{layer_name}.{param_name}", param


def original_modules(model):
    """``named_modules()`` of the model as it was before any adapter was injected."""
    seen: set[int] = set()

    def walk(module, prefix):
        module = original_module(module)
        if id(module) in seen:
            return
        seen.add(id(module))
        yield prefix, module
        for child_name, child in module.named_children():
            yield from walk(child, f"{prefix}.{child_name}" if prefix else child_name)

    yield from walk(model, "")


@lru_cache(maxsize=1)
def _peft_version() -> str:
    return metadata.version("peft")


def _task_type(config) -> str | None:
    task_type = getattr(config.task_type, "value", config.task_type)
    return None if task_type is None else str(task_type)


def rank_for(name: str, config) -> int:
    """``r``, or the rank of the first ``rank_pattern`` key matching the end of ``name``."""
    for pattern, rank in (config.rank_pattern or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", name):
            return rank
    return config.r


def _names_of(named, module) -> list[str]:
    return [] if module is None else [name for name, candidate in named if candidate is module]


def _all_linear(model, named, task_type: str | None) -> list[str]:
    """``"all-linear"`` on the live model: its Linear/Conv1D modules, output head and classifier."""
    import torch
    from transformers.pytorch_utils import Conv1D

    linear = [name for name, module in named if isinstance(module, (torch.nn.Linear, Conv1D))]
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    classifier = next((getattr(model, attr) for attr in matching.SEQ_CLS_HEAD_ATTRS
                       if getattr(model, attr, None) is not None), None)
    return matching.all_linear_targets(linear, _names_of(named, head), _names_of(named, classifier),
                                       peft_version=_peft_version(), task_type=task_type)


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


def _module_targets(named, config, task_type: str | None) -> list[Target]:
    """The modules ``target_modules`` adapts, less those peft excludes."""
    names = [name for name, _ in named]
    excluded = matching.excluded_names(
        names, peft_version=_peft_version(), task_type=task_type,
        exclude_modules=getattr(config, "exclude_modules", None), modules_to_save=config.modules_to_save)
    is_target = matching.target_matcher(
        config.target_modules, peft_version=_peft_version(),
        layers_to_transform=config.layers_to_transform, layers_pattern=config.layers_pattern)
    return [Target(name, module, rank_for(name, config)) for name, module in named
            if name and name not in excluded and is_target(name)]


def resolve_targets(model, config, named=None) -> tuple[list[Target], list[str]]:
    """(adapted modules and parameters, names of the modules wrapped for ``modules_to_save``).

    ``named`` is the model's ``(name, module)`` list as peft will see it (default: ``original_modules``).
    """
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    named = list(original_modules(model)) if named is None else named
    config = copy.deepcopy(config)
    _convert_moe_targets(model, config)
    task_type = _task_type(config)
    if config.target_modules is None and not config.target_parameters:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type not in DEFAULTS:
            raise ValueError("Please specify `target_modules` or `target_parameters` in `peft_config`")
        config.target_modules = set(DEFAULTS[model_type])
    if isinstance(config.target_modules, str) and config.target_modules.lower() == matching.ALL_LINEAR:
        config.target_modules = set(_all_linear(model, named, task_type))

    targets = _module_targets(named, config, task_type) if config.target_modules is not None else []
    if config.target_parameters:
        wanted = set(config.target_parameters)
        for name, module in named:
            for param_name, _ in module.named_parameters(recurse=False):
                key = f"{name}.{param_name}"
                if key in wanted or any(key.endswith(f".{entry}") for entry in wanted):
                    targets.append(Target(name, module, rank_for(key, config), param_name))
    if not targets:
        raise no_match_error()(f"target_modules={config.target_modules!r} and target_parameters="
                                f"{config.target_parameters!r} match nothing in the model (peft raises here too)")
    entries = matching.saved_entries(config.modules_to_save, task_type, _peft_version())
    saved = matching.saved_names([name for name, _ in named], entries)
    _check_saved(saved, dict(named), {target.name for target in targets if target.parameter is None})
    return targets, saved


def no_match_error() -> type[ValueError]:
    """peft's exception for a config that adapts nothing (a ValueError), where this peft has one."""
    try:
        from peft.utils.error import NoMatchingPeftModuleError
    except ImportError:
        return ValueError
    return NoMatchingPeftModuleError


def _check_saved(saved, modules, adapted) -> None:
    """peft refuses to wrap containers, or modules it has just given a LoRA layer, for ``modules_to_save``."""
    import torch

    containers = (torch.nn.ModuleDict, torch.nn.ModuleList, torch.nn.ParameterDict, torch.nn.ParameterList)
    lora = set(matching.wrapped_adapted(saved, adapted, _peft_version()))
    for name in saved:
        if isinstance(modules[name], containers) or name in lora:
            kind = "a LoRA layer" if name in lora else type(modules[name]).__name__
            raise TypeError(f"modules_to_save cannot be applied to {name!r}: it is {kind}")
