"""The module tree of one checkpoint: its model type's recorded tree, fitted to its config.json.

``scripts/gen_architectures.py`` records, per model type, what a config changes in the tree
(``fields``): which config fields set the length of each ``nn.ModuleList`` (``counts``), which
fields change the modules themselves (``names``, with their defaults: T5's
``feed_forward_proj`` makes ``wi`` or ``wi_0``/``wi_1``), and how the blocks of a list with
differently built members are laid out as it grows (``groups``: T5's first block alone holds
the relative attention bias). Trees built from other structure values are kept as
``variants``, each with the values it was built from (``when``).

A config whose structure values match no recorded tree, or whose list lengths move a layout
no rule describes, has no tree here (None): a rule then stays silent rather than judge a
model by the wrong modules.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Callable

_MISSING = object()
_MAX_COUNT = 1_000_000  # a list length beyond this is not a real config


def lookup(config: dict, path: str, default: Any = _MISSING) -> Any:
    """The value at ``path`` (``text_config.num_hidden_layers``) in a config dict."""
    value: Any = config
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def normalized(config: dict, aliases: dict[str, str]) -> dict:
    """``config`` with attribute-map aliases (``num_hidden_layers`` for T5's ``num_layers``)
    renamed to the attribute transformers stores, unless that one is also given."""
    out = dict(config)
    for alias, real in aliases.items():
        if alias in out and real not in out:
            out[real] = out.pop(alias)
    return out


def choose(entry: dict, config: dict, lengths: dict[str, int]) -> dict | None:
    """The recorded tree (the default or a variant) built from ``config``'s structure values.

    A field the config leaves out has its default; when no tree was built from those
    values (a field transformers derives from another, as T5's ``is_gated_act`` from
    ``feed_forward_proj``), a left-out field matches any value, if that leaves one tree.
    A variant with ``at`` (list lengths) is one checkpoint's exact tree, used only at those
    lengths; one without stands for every length its layout rules reach.
    """
    fields = entry.get("fields")
    if not fields:
        return entry
    names = fields["names"]
    trees = [({**names, **v["when"]}, v) for v in entry.get("variants", ())]
    trees.append((names, entry))
    given = {name: value for name in names if (value := lookup(config, name)) is not _MISSING}

    def fits(when: dict, tree: dict, strict: bool) -> bool:
        if any(lengths.get(name) != n for name, n in tree.get("at", {}).items()):
            return False
        return all(when[name] == given.get(name, default) if strict or name in given else True
                   for name, default in names.items())

    for strict in (True, False):
        found = [tree for when, tree in trees if fits(when, tree, strict)]
        exact = [tree for tree in found if "at" in tree]
        if exact or found:
            picked = exact or found
            if strict or len({json.dumps(t, sort_keys=True) for t in picked}) == 1:
                return picked[0]
            return None
    return None


def counts(entry: dict, config: dict) -> dict[str, int] | None:
    """Each counted list's length under ``config`` (None if a count is not a sane int)."""
    fields = entry.get("fields") or {}
    out = {}
    for name, paths in fields.get("counts", {}).items():
        value = next((v for v in (lookup(config, p) for p in paths) if v is not _MISSING and v is not None),
                     fields["defaults"][paths[-1]])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
            return None
        out[name] = value
    return out


def fallback_task(tree: dict, task: str) -> str | None:
    """``task`` if the tree records its class, else the first recorded of base model, causal
    LM, seq2seq LM, sequence classification (their bodies carry the names targets match)."""
    order = (task, "base", "causal_lm", "seq2seq_lm", "sequence_classification")
    return next((t for t in order if t in tree), None)


def tailor(entry: dict, config: dict, task: str, build: Callable[[dict, str], Any]) -> Any:
    """The Architecture of ``task`` that ``config`` makes of this model type, or None.

    ``build(tree, task)`` turns a recorded tree into an Architecture (see
    ``architectures.get_architecture``, whose task fallback applies here too).
    """
    fields = entry.get("fields") or {}
    config = normalized(config, fields.get("aliases", {}))
    lengths = counts(entry, config)
    tree = None if lengths is None else choose(entry, config, lengths)
    if tree is None:
        return None
    chosen = fallback_task(tree, task)
    if chosen is None:
        return None
    arch = build(tree, chosen)
    for name, n in lengths.items():
        arch = recount(arch, name, n, tree.get("groups", {}).get(name, []))
        if arch is None:
            return None
    paths = fields.get("num_layers", ())
    layers = next((v for v in (lookup(config, p) for p in paths) if isinstance(v, int) and not isinstance(v, bool)),
                  fields["defaults"][paths[-1]] if paths else arch.num_layers)
    return replace(arch, num_layers=layers)


def _position(pattern: str, name: str) -> int | None:
    """Which placeholder of ``pattern`` indexes the list ``name`` (a base-model-relative
    pattern, matched at the start or after a prefix without placeholders), or None."""
    at = pattern.find(name + ".{")
    if at < 0 or (at > 0 and pattern[at - 1] != ".") or "{" in pattern[:at]:
        return None
    return name.count("{")


def indices(spec: Any) -> list[int]:
    return list(range(spec)) if isinstance(spec, int) else list(spec)


def apply_rule(rule: dict, n: int) -> int | tuple[int, ...]:
    """The indices of a group of blocks in a list of ``n`` (see ``fit_rule``), written as
    the generator writes them: a count when they are 0..k-1."""
    if "fixed" in rule:
        picked = tuple(i for i in rule["fixed"] if i < n)
    elif "from" in rule:
        picked = tuple(range(rule["from"], n))
    else:
        period, offset = rule["every"], rule["offset"]
        picked = tuple(i for i in range(n) if (i % period == offset) != rule.get("except", False))
    return len(picked) if picked == tuple(range(len(picked))) else picked


def fit_rule(seen: dict[int, list[int]]) -> dict | None:
    """The simplest layout rule that gives every observed index set (list length -> indices):
    blocks from some index on, a fixed set, or every p-th block (or all but every p-th)."""
    lengths = sorted(seen)
    candidates: list[dict] = []
    first = seen[lengths[0]]
    if first:
        candidates.append({"from": first[0]})
    candidates.append({"fixed": first})
    for period in range(2, max(lengths) + 1):
        candidates += [{"every": period, "offset": offset} for offset in range(period)]
        candidates += [{"every": period, "offset": offset, "except": True} for offset in range(period)]
    for rule in candidates:
        if all(indices(apply_rule(rule, n)) == seen[n] for n in lengths):
            return rule
    return None


def recount(arch: Any, name: str, n: int, groups: list) -> Any:
    """``arch`` with the list ``name`` holding ``n`` blocks, or None if its layout cannot say.

    ``groups`` pairs each group's recorded spec with its layout rule; a list of one group
    holding every block needs none.
    """
    matched = [(m, p) for m in arch.modules if (p := _position(m.pattern, name)) is not None and len(m.specs) > p]
    if not matched:
        return arch
    current = max((max(indices(m.specs[p]), default=-1) for m, p in matched), default=-1) + 1
    if n == current:
        return arch
    rules = {json.dumps(spec): rule for spec, rule in groups}
    modules = list(arch.modules)
    for at, module in enumerate(modules):
        p = _position(module.pattern, name)
        if p is None or len(module.specs) <= p:
            continue
        spec = module.specs[p]
        rule = rules.get(json.dumps(list(spec) if isinstance(spec, tuple) else spec))
        if rule is not None:
            new = apply_rule(rule, n)
        elif isinstance(spec, int) and spec == current:
            new = n
        else:
            return None
        modules[at] = replace(module, specs=(*module.specs[:p], new, *module.specs[p + 1:]))
    return replace(arch, modules=tuple(modules))
