"""The analysis pass: peft ``LoraConfig`` calls and what is statically known about them.

The engine calls ``might_use_peft(source)`` before parsing and ``collect_calls(wrapper,
ctx)`` once per parsed file; rules receive the ``LoraCall`` objects. Names are resolved
from the file's own imports and assignments (``index.FileIndex``), not with libcst's
generic scope analysis. PEP 723 inline script metadata is applied by the engine through
``lint_rules.project.context_for_source`` (it changes the checked peft range per file).
"""
from __future__ import annotations

import libcst as cst

from ..rule import RuleContext
from .calls import LORA_CONFIG_NAMES, Keyword, LoraCall, build_call, is_lora_config
from .index import FileIndex
from .model import ModelInfo, applications, model_for
from .values import UNKNOWN

__all__ = ["LORA_CONFIG_NAMES", "UNKNOWN", "Keyword", "LoraCall", "ModelInfo",
           "collect_calls", "might_use_peft"]


def might_use_peft(source: str) -> bool:
    """Cheap prefilter: ``False`` only when the file cannot call peft's ``LoraConfig``.

    Every import style names ``peft`` somewhere (``import peft as p``, ``from peft import *``);
    a re-export through another module (``from mylib import LoraConfig``) names the class.
    """
    return "peft" in source or "LoraConfig" in source


def collect_calls(wrapper: cst.MetadataWrapper, ctx: RuleContext) -> list[LoraCall]:
    """Every call of peft's ``LoraConfig`` in the module, in source order."""
    index = FileIndex.build(wrapper.module)
    sites = [site for site in index.calls if is_lora_config(index, site)]
    if not sites:
        return []
    calls = [build_call(index, site) for site in sites]
    statements = {id(site.statement) for site in sites if site.statement is not None}
    applied = applications(index)
    for site, call in zip(sites, calls):
        call.model = model_for(index, site, call, statements, applied, ctx)
    return calls
