"""The analysis pass: peft ``LoraConfig`` calls and what is statically known about them.

The engine calls ``collect_calls(wrapper, ctx)`` once per parsed file (``lint_rules.prefilter``
decides which files are parsed); rules receive the ``LoraCall`` objects. Names are resolved
from the file's own imports and assignments (``index.FileIndex``), not with libcst's
generic scope analysis. PEP 723 inline script metadata is applied by the engine through
``lint_rules.project.context_for_source`` (it changes the checked peft range per file).
"""
from __future__ import annotations

import libcst as cst

from ..rule import RuleContext
from .attributes import attach_attribute_uses
from .calls import LORA_CONFIG_NAMES, Keyword, LoraCall, build_call, imported_call, is_lora_config
from .flow import Tracer
from .index import FileIndex
from .model import ModelInfo, applications, models_for
from .modules import ModuleReader
from .values import UNKNOWN

__all__ = ["LORA_CONFIG_NAMES", "UNKNOWN", "Calls", "Keyword", "LoraCall", "ModelInfo",
           "collect_calls", "index_only"]


class Calls(list):
    """The calls found in a file; ``depends_on``: the other files of the project read to
    find them (a config or model id imported from them), whose changes may change them;
    ``index``: the file's own index (for the rules about other calls, ``Rule.PER_FILE``)."""

    depends_on: tuple[str, ...] = ()
    index: FileIndex | None = None


def collect_calls(wrapper: cst.MetadataWrapper, ctx: RuleContext) -> Calls:
    """Every call of peft's ``LoraConfig`` in the module, in source order, then the configs
    of other project modules this one applies to a model it knows."""
    index = FileIndex.build(wrapper.module)
    reader = ModuleReader.for_file(ctx.filename)
    applied = applications(index, Tracer(index, reader))
    found = Calls()
    found.index = index
    found.depends_on = tuple(reader.read) if reader is not None else ()
    sites = [site for site in index.calls if is_lora_config(index, site)]
    statements = {id(site.statement) for site in sites if site.statement is not None}
    for site in sites:
        call = build_call(index, site)
        _set_models(call, models_for(index, site, call, statements, applied.models.get(site.node), ctx))
        found.append(call)
    attach_attribute_uses(index, Tracer(index), found)  # configs made in this file only
    for (node, anchor), (origin, uses) in applied.imported.items():
        other = origin.index.site_of(node)
        if other is None or not uses or origin.path is None:
            continue
        call = imported_call(origin.index, other, origin.path, anchor)
        _set_models(call, models_for(index, None, call, statements, uses, ctx))
        if call.models or call.unnamed_models:
            found.append(call)
    return found


def index_only(module: cst.Module) -> Calls:
    """No calls, only the file's index: for a file that only the ``PER_FILE`` rules look at."""
    found = Calls()
    found.index = FileIndex.build(module)
    return found


def _set_models(call: LoraCall, models: tuple[ModelInfo, ...]) -> None:
    call.unnamed_models = tuple(m for m in models if not m.names_known)
    models = tuple(m for m in models if m.names_known)
    call.models = models
    call.model = models[0] if len(models) == 1 else None
