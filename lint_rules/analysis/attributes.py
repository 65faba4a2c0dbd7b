"""Attribute uses on configs: ``config.rank`` where ``config`` holds a peft ``LoraConfig``
on every path to the use (``flow``: reaching definitions, traced through names, helper
functions and conditionals). A use whose name may hold anything else, on any path, is left out.
"""
from __future__ import annotations

from typing import Iterable

import libcst as cst

from .calls import LoraCall, is_lora_config
from .flow import Point, Tracer
from .index import AttributeSite, FileIndex


def attach_attribute_uses(index: FileIndex, tracer: Tracer, calls: Iterable[LoraCall]) -> None:
    """Give each call the attribute uses on names that hold it (the first call in source
    order when a name may hold one of several)."""
    by_node = {id(call.node): call for call in calls if call.origin is None}
    if not by_node or not index.attribute_sites:
        return
    candidates = _config_names(index)
    probes = _hasattr_probes(index)
    for site in index.attribute_sites:
        if site.name not in candidates:
            continue
        holder = _holder(index, tracer, site, by_node)
        if holder is None:
            continue
        attribute = site.node.attr.value
        written = index.attribute_writes.get(site.name, set())
        site.probed = (site.name, attribute) in probes
        site.set_here = attribute in written or "*" in written
        holder.attributes.append(site)


def _config_names(index: FileIndex) -> set[str]:
    """Names with an assignment in the file (only those can hold a config made here)."""
    return {name for name, bindings in index.all_bindings.items() if any(b.kind == "assign" for b in bindings)}


def _holder(index: FileIndex, tracer: Tracer, site: AttributeSite, by_node: dict[int, LoraCall]) -> LoraCall | None:
    """The call whose config ``site.name`` holds on every path, else None."""
    found: list[LoraCall] = []
    for origin in tracer.name_origins(site.name, Point(site.scope, site.block, site.order)):
        node = origin.node
        if node is None or origin.path is not None or not isinstance(node, cst.Call):
            return None
        call_site = index.site_of(node)
        if call_site is None or not is_lora_config(index, call_site) or id(node) not in by_node:
            return None
        found.append(by_node[id(node)])
    if not found:
        return None
    return min(found, key=lambda call: index.site_of(call.node).order)  # type: ignore[union-attr]


def _hasattr_probes(index: FileIndex) -> set[tuple[str, str]]:
    """``(name, attribute)`` of each ``hasattr(name, "attribute")`` in the file."""
    probes: set[tuple[str, str]] = set()
    for site in index.calls_by_name.get("hasattr", []):
        args = site.node.args
        if len(args) == 2 and isinstance(args[0].value, cst.Name):
            value = index.value_of(args[1].value, site.scope)
            if isinstance(value, str):
                probes.add((args[0].value.value, value))
    return probes
