"""peft's ``target_modules`` semantics, applied to recorded architectures.

peft walks ``model.named_modules()`` and adapts every module whose full name matches:

- a list entry matches a name equal to it or ending in ``"." + entry`` (peft >= 0.6.0;
  0.5.x: a name equal to it or matching the regex ``.*\\.<entry>$``; before: a plain
  ``name.endswith(entry)``, so ``"proj"`` matched ``q_proj``);
- a string is a regex that must ``re.fullmatch`` the name (peft >= 0.2.0; before, a
  string was iterated like a list of its characters);
- ``"all-linear"`` (any case, peft >= 0.8.0) is every ``nn.Linear``/``Conv1D`` except the
  output embeddings (and, with task type ``SEQ_CLS`` from 0.13.0, the ``score``/
  ``classifier`` head of a model without output embeddings); before 0.15.0 it became
  the set of their last name segments, used like a list.

``layers_to_transform`` keeps, for list entries, the modules whose layer index (the
number after ``layers_pattern``, or after the first ``<name>.<n>.`` in the name) is
listed; peft < 0.20 read the last such number instead, an expert's index in MoE models.

A matched module that peft cannot wrap (a norm, an attention block, a ``Conv3d`` before
0.14.0: ``peft_releases.layer_kinds``) makes peft raise "Target module ... is not
supported"; matching nothing raises the "not found" error.
With transformers 5, peft >= 0.19.0 rewrites ``target_modules`` of the MoE models whose
experts were fused (Mixtral and the models transformers converts like it or like
Qwen2-MoE) into ``target_parameters`` on the fused expert weights.

The rules on plain module names are public (``entry_matcher``, ``target_matcher``,
``layer_filter``, ``all_linear_targets``, ``excluded_names``, ``task_heads``,
``saved_entries``, ``saved_names``, ``wrapped_adapted``, ``pattern_key_test``): ``pytest_lora.targeting``
applies them to a live model's names with the installed peft version.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from packaging.version import Version

from .architectures import LINEAR, Architecture, Module
from .peft_releases import layer_kinds

ALL_LINEAR = "all-linear"
# the heads peft appends to modules_to_save per task type (QUESTION_ANS from 0.4.0)
TASK_HEADS = {"SEQ_CLS": ("classifier", "score"), "TOKEN_CLS": ("classifier", "score"),
              "QUESTION_ANS": ("qa_outputs",)}
SEQ_CLS_HEAD_ATTRS = ("score", "classifier")  # the model attribute all-linear skips, first found
# peft's v4 -> v5 target remap per conversion pattern: old module name -> fused parameter
MOE_REMAP = {
    "mixtral": {"gate": "gate.weight", "w1": "gate_up_proj", "w3": "gate_up_proj", "w2": "down_proj"},
    "qwen2_moe": {"gate": "gate.weight", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj",
                  "down_proj": "down_proj"},
}
MOE_FUSED = {"mixtral": ("w1", "w3"), "qwen2_moe": ("gate_proj", "up_proj")}  # -> gate_up_proj
COMMON_LAYERS_PATTERN = ("layers", "h", "block", "blocks", "layer")  # peft < 0.8 default


@dataclass(frozen=True)
class MatchResult:
    """What peft would do with ``target_modules`` on an architecture.

    ``matched`` maps each list entry (or the whole string) to the module names it
    matches; ``unmatched`` lists the entries that reach nothing. ``targeted`` holds the
    names peft adapts (matched and not excluded), ``unsupported`` those of them peft
    cannot wrap. ``converted`` maps entries peft rewrote into ``target_parameters`` and
    ``parameters`` each such target to the parameter names it reaches. ``error`` is an
    error peft raises before matching (an invalid regex, half of a fused pair).
    """

    matched: dict[str, list[str]]
    unmatched: list[str]
    targeted: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    converted: dict[str, list[str]] = field(default_factory=dict)
    parameters: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def any_match(self) -> bool:
        """Whether peft finds something to adapt (else it raises its "not found" error)."""
        return self.error is None and bool(self.targeted or any(self.parameters.values()))

    def peft_error(self) -> str | None:
        """The error peft raises for this configuration, in a few words, or None."""
        if self.error:
            return self.error
        if not self.any_match:
            return "no module matches target_modules"
        if self.unsupported:
            return f"target module {self.unsupported[0]} is not supported"
        return None


def _since(peft: Version | None, version: str) -> bool:
    return peft is None or peft >= _parse(version)


@lru_cache(maxsize=64)
def _parse(peft_version: str | None) -> Version | None:
    return Version(peft_version) if peft_version else None


# --- peft's rules on plain module names -------------------------------------------------------

def _entry_test(peft: Version | None) -> Callable[[str, str], bool]:
    """peft's test of a list entry against a full name, for its version (layers aside)."""
    if _since(peft, "0.6.0"):
        return lambda entry, name: _ends_in(name, entry)
    if _since(peft, "0.5.0"):
        return lambda entry, name: name == entry or re.match(rf".*\.{entry}$", name) is not None
    return lambda entry, name: name.endswith(entry)


def _ends_in(name: str, entry: str) -> bool:
    """Whether ``entry`` names the dotted ``name``: equal to it, or its last segments."""
    return name == entry or name.endswith("." + entry)


def layer_filter(layers_to_transform: int | Iterable[int] | None,
                 layers_pattern: str | Iterable[str] | None = None,
                 peft_version: str | None = None) -> Callable[[str], bool] | None:
    """peft's ``layers_to_transform`` test of a module name, or None when it is not used.

    The layer index is the number after a ``layers_pattern`` entry, or else (peft >= 0.8.0)
    after the first ``<name>.<n>.`` of the name (peft < 0.20: the last, an expert's index
    in MoE models); before 0.8.0 ``layers_pattern`` defaulted to the common names.
    """
    peft, layers = _parse(peft_version), layers_to_transform
    if layers is None:
        return None
    indexes = [layers] if isinstance(layers, int) else list(layers)
    patterns = [layers_pattern] if isinstance(layers_pattern, str) else list(layers_pattern or [])
    if not _since(peft, "0.8.0"):
        regexes = [rf".*.{p}\.(\d+)\.*" for p in (patterns if layers_pattern is not None
                                                  else COMMON_LAYERS_PATTERN)]
    else:
        if not isinstance(layers, int) and not indexes:
            return None
        lead = r".*?\." if _since(peft, "0.20.0") else r".*\."
        start = r"(?:^|.*?\.)" if _since(peft, "0.21.0") else lead
        regexes = [rf"{start}{p}\.(\d+)\." for p in patterns] if layers_pattern else \
            [rf"{lead}[^.]*\.(\d+)\."]

    def keep(name: str) -> bool:
        for regex in regexes:
            found = re.match(regex, name)
            if found:
                return int(found.group(1)) in indexes
        return False

    return keep


def entry_matcher(peft_version: str | None = None,
                  layers_to_transform: int | Iterable[int] | None = None,
                  layers_pattern: str | Iterable[str] | None = None) -> Callable[[str, str], bool]:
    """peft's test ``(entry, name)`` of a ``target_modules`` list entry against a full name.

    The name must match the entry (see the module docstring) and pass ``layer_filter``;
    from peft 0.8.0 a name equal to an entry is adapted whatever its layer.
    """
    peft = _parse(peft_version)
    test = _entry_test(peft)
    keep = layer_filter(layers_to_transform, layers_pattern, peft_version)
    if keep is None:
        return test
    exact_wins = _since(peft, "0.8.0")

    def matches(entry: str, name: str) -> bool:
        return (exact_wins and name == entry) or (test(entry, name) and keep(name))

    return matches


def target_matcher(target_modules: str | Iterable[str], *, peft_version: str | None = None,
                   layers_to_transform: int | Iterable[int] | None = None,
                   layers_pattern: str | Iterable[str] | None = None) -> Callable[[str], bool]:
    """Whether peft adapts a module name for ``target_modules``, exclusions aside.

    A string is a regex that must fullmatch the name (peft >= 0.2.0; ``layers_to_transform``
    not consulted); list entries are tested by ``entry_matcher``. ``"all-linear"`` must be
    resolved first (``all_linear_targets``).
    """
    if isinstance(target_modules, str) and _since(_parse(peft_version), "0.2.0"):
        regex = re.compile(target_modules)
        return lambda name: regex.fullmatch(name) is not None
    entries = list(target_modules)
    test = entry_matcher(peft_version, layers_to_transform, layers_pattern)
    return lambda name: any(test(entry, name) for entry in entries)


def all_linear_targets(linear: Iterable[str], output_heads: Iterable[str],
                       classifier: Iterable[str] = (), *, peft_version: str | None = None,
                       task_type: str | None = None) -> list[str]:
    """What ``"all-linear"`` becomes, given the Linear/Conv1D names of a model.

    All of them but the output embeddings' (``output_heads``) or, for a model without any
    and task type SEQ_CLS (peft >= 0.13.0), the classifier head's (the first of the
    ``SEQ_CLS_HEAD_ATTRS`` attributes the model has). Full names from peft 0.15.0; before,
    the set of their last segments, used like a list.
    """
    peft = _parse(peft_version)
    linear, skip = list(linear), set(output_heads)
    if not skip and task_type == "SEQ_CLS" and _since(peft, "0.13.0"):
        skip.update(classifier)
    if _since(peft, "0.15.0"):
        return [n for n in linear if n not in skip]
    return sorted({n.rsplit(".", 1)[-1] for n in linear} - skip)


def task_heads(task_type: str | None, peft_version: str | None = None) -> tuple[str, ...]:
    """The heads peft appends to ``modules_to_save`` for ``task_type`` (see ``TASK_HEADS``)."""
    if task_type == "QUESTION_ANS" and not _since(_parse(peft_version), "0.4.0"):
        return ()  # no such task type yet: a plain PeftModel
    return TASK_HEADS.get(task_type or "", ())


def saved_entries(modules_to_save: Iterable[str] | None, task_type: str | None = None,
                  peft_version: str | None = None) -> list[str]:
    """The ``modules_to_save`` entries peft wraps: the given ones, then the task type's heads."""
    entries = list(modules_to_save or ())
    return entries + [h for h in task_heads(task_type, peft_version) if h not in entries]


def saved_names(names: Iterable[str], entries: Iterable[str]) -> list[str]:
    """The modules peft wraps for ``modules_to_save``: each name ending in an entry.

    A plain ``endswith`` (``"classifier"`` also wraps ``cls_classifier``), so a nested
    module can be wrapped as well as its parent; never the root.
    """
    entries = list(entries)
    return [n for n in names if n and any(n.endswith(e) for e in entries)]


def wrapped_adapted(saved: Iterable[str], adapted: Iterable[str],
                    peft_version: str | None = None) -> list[str]:
    """Saved modules that also got a LoRA layer: peft >= 0.13.0 refuses them (TypeError)."""
    if not _since(_parse(peft_version), "0.13.0"):
        return []
    adapted = set(adapted)
    return [n for n in saved if n in adapted]


def excluded_names(names: Iterable[str], *, peft_version: str | None = None,
                   task_type: str | None = None,
                   exclude_modules: str | Iterable[str] | None = None,
                   modules_to_save: Iterable[str] | None = None) -> set[str]:
    """The names peft never adapts, whatever ``target_modules`` says.

    ``exclude_modules`` (peft >= 0.14.0; a regex to fullmatch, or entries matched like
    list targets) and, from 0.16.0, each module named by a ``modules_to_save`` entry and
    everything under it. Of the task heads only SEQ_CLS's count: TOKEN_CLS and
    QUESTION_ANS append theirs after the adapters are injected.
    """
    peft = _parse(peft_version)
    names = list(names)
    out: set[str] = set()
    if exclude_modules and _since(peft, "0.14.0"):
        if isinstance(exclude_modules, str):
            out.update(n for n in names if re.fullmatch(exclude_modules, n))
        else:
            entries = list(exclude_modules)
            out.update(n for n in names if any(_ends_in(n, e) for e in entries))
    saved = list(modules_to_save or ())
    if task_type == "SEQ_CLS":
        saved += task_heads(task_type, peft_version)
    if saved and _since(peft, "0.16.0"):
        out.update(n for n in names if any(re.match(rf"(^|.*\.){m}($|\..*)", n) for m in saved))
    return out


def pattern_key_test(peft_version: str | None = None) -> Callable[[str, str], bool]:
    """peft's test ``(key, name)`` of a ``rank_pattern``/``alpha_pattern`` key against a module's full
    name: the key is a regex for the name's last segments, ``re.match(rf"(.*\\.)?({key})$", name)``
    from peft 0.15.0; from 0.6.0 (when the options came) ``re.match(rf".*\\.{key}$", name)``, so a
    key never matched from a name's first segment. Raises ``re.error`` for an invalid key."""
    if _since(_parse(peft_version), "0.15.0"):
        return lambda key, name: re.match(rf"(.*\.)?({key})$", name) is not None
    return lambda key, name: re.match(rf".*\.{key}$", name) is not None


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
_MAX_REPEATS = 6  # unbounded repeats in one pattern: each can multiply the work on a name


def bounded(pattern: str) -> bool:
    """Whether matching ``pattern`` against a module name takes time bounded by a small power
    of the name's length: no repeat inside a repeat (``(a+)+``), no repeated alternation
    (``(a|a)*``), no back-reference, few unbounded repeats. Patterns from user code that fail
    this are not evaluated (their result cannot be computed safely); an invalid one is."""
    if len(pattern) > 1000:
        return False
    try:
        parsed = _sre_parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return True  # invalid: compiling it raises at once, as peft does
    repeats = 0

    def walk(items: Iterable, inside_repeat: bool) -> bool:
        nonlocal repeats
        for op, arg in items:
            name = str(op)
            if name in ("GROUPREF", "GROUPREF_EXISTS"):
                return False
            if name in _REPEATS:
                low, high, body = arg
                if high != 1:
                    if inside_repeat:
                        return False
                    repeats += 1
                if not walk(body, inside_repeat or high != 1):
                    return False
            elif name == "BRANCH":
                if inside_repeat:
                    return False
                if not all(walk(branch, inside_repeat) for branch in arg[1]):
                    return False
            elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
                if not walk(arg[-1], inside_repeat):
                    return False
            elif name in ("ASSERT", "ASSERT_NOT"):
                if not walk(arg[1], inside_repeat):
                    return False
        return True

    return walk(parsed, False) and repeats <= _MAX_REPEATS


def _sre_parse(pattern: str) -> Any:
    try:
        from re import _parser as parser  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse as parser  # type: ignore[no-redef]
    return parser.parse(pattern)


# --- recorded architectures ---------------------------------------------------------------------

@lru_cache(maxsize=256)
def _index(arch: Architecture) -> tuple[list[str], dict[str, Module], list[str]]:
    """All module names, the module of each, and every parameter peft can target."""
    names, owner, params = [], {}, []
    for module in arch.modules:
        own = module.params or (("weight",) if module.targetable else ())
        for name in module.names():
            names.append(name)
            owner[name] = module
            params.extend(f"{name}.{p}" for p in own)
    return names, owner, params


def _all_linear(arch: Architecture, peft_version: str | None, task_type: str | None) -> list[str]:
    """What ``"all-linear"`` becomes on ``arch``."""
    linear = [n for m in arch.modules if m.cls in LINEAR for n in m.names()]
    classifier = [n for m in arch.modules if arch.classifier and m.pattern == arch.classifier
                  for n in m.names()]
    return all_linear_targets(linear, arch.output_heads(), classifier,
                              peft_version=peft_version, task_type=task_type)


def _conversion(arch: Architecture, peft: Version | None) -> str | None:
    """The MoE remap peft applies to this architecture, if any."""
    if arch.conversion is None or not _since(peft, "0.19.0"):
        return None
    if int(arch.transformers.split(".")[0]) < 5:
        return None
    pattern = "mixtral" if arch.model_type == "mixtral" else arch.conversion  # peft adds mixtral
    return pattern if pattern in MOE_REMAP else None


def conversion(arch: Architecture, peft_version: str | None = None) -> str | None:
    """The MoE remap pattern (a ``MOE_REMAP`` key) peft ``peft_version`` applies to ``arch``'s
    ``target_modules``, or None: its experts are reached only by their own names or
    ``target_parameters``."""
    return _conversion(arch, _parse(peft_version))


def _resolve_string(target: str, arch: Architecture, pattern: str, peft_version: str | None,
                    task_type: str | None) -> list[str]:
    """peft >= 0.20: a string on a remapped model becomes the last segments it reaches."""
    remap = MOE_REMAP[pattern]
    if target.lower() == ALL_LINEAR:
        full = _all_linear(arch, peft_version, task_type)
        return sorted({n.rsplit(".", 1)[-1] for n in full} | set(remap))
    names, _, params = _index(arch)
    found = {k.rsplit(".", 1)[-1] for k in (*names, *params) if re.fullmatch(target, k)}
    for old, new in remap.items():
        if old in found:
            continue
        holders = [p.rpartition(".")[0] for p in params if p.rsplit(".", 1)[-1] == new]
        if any(re.fullmatch(target, f"{h}.{old}") for h in holders):
            found.add(old)
    return sorted(found)


def _entries(target_modules: str | Iterable[str], arch: Architecture, peft_version: str | None,
             task_type: str | None) -> tuple[list[str] | None, str | None]:
    """The list entries peft matches (None: a regex) and the MoE remap that applies."""
    peft = _parse(peft_version)
    pattern = _conversion(arch, peft)
    if not isinstance(target_modules, str):
        return list(dict.fromkeys(target_modules)), pattern
    if not _since(peft, "0.2.0"):
        return list(dict.fromkeys(target_modules)), pattern
    if pattern and not _since(peft, "0.20.0"):
        return sorted(set(target_modules)), pattern  # 0.19 made a set of the characters
    if pattern:
        resolved = _resolve_string(target_modules, arch, pattern, peft_version, task_type)
        if resolved:
            return resolved, pattern
        pattern = None
    if _since(peft, "0.8.0") and target_modules.lower() == ALL_LINEAR:
        return _all_linear(arch, peft_version, task_type), pattern
    re.compile(target_modules)  # peft fails on an invalid pattern
    return None, pattern


def _convert(entries: list[str], pattern: str) -> dict[str, list[str]]:
    """Entries peft rewrites into ``target_parameters``; ValueError for half a fused pair."""
    remap, fused = MOE_REMAP[pattern], MOE_FUSED[pattern]
    converted = {}
    for entry in entries:
        new = next((n for o, n in remap.items() if _ends_in(entry, o)), None)
        if new is not None:
            converted[entry] = [new]
    olds = {o for e in converted for o in fused if _ends_in(e, o)}
    if 0 < len(olds) < len(fused):
        missing = sorted(set(fused) - olds)
        raise ValueError(f"cannot convert {', '.join(sorted(olds))} without {', '.join(missing)}: "
                         "they are fused into gate_up_proj")
    return converted


def match_target_modules(
    target_modules: str | Iterable[str],
    arch: Architecture,
    *,
    peft_version: str | None = None,
    task_type: str | None = None,
    exclude_modules: str | Iterable[str] | None = None,
    modules_to_save: Iterable[str] | None = None,
    layers_to_transform: int | Iterable[int] | None = None,
    layers_pattern: str | Iterable[str] | None = None,
) -> MatchResult:
    """Apply peft's matching of ``target_modules`` to ``arch``'s module names.

    ``peft_version`` None means the newest behaviour. ``task_type`` matters for
    ``"SEQ_CLS"`` only (peft adds ``classifier``/``score`` to ``modules_to_save``, which
    from 0.16.0 are never targeted). ``exclude_modules`` counts from peft 0.14.0.
    ``layers_to_transform``/``layers_pattern`` narrow list entries (not a regex).
    ``target_modules=None`` (peft's per-model default) is the caller's to resolve.
    """
    whole = target_modules if isinstance(target_modules, str) else None
    unsafe = next((r for r in (whole, exclude_modules) if isinstance(r, str) and not bounded(r)), None)
    if unsafe is not None:
        return MatchResult({}, [], error=f"the regex {unsafe[:60]!r} may take exponential time; not evaluated")
    try:
        return _match(target_modules, whole, arch, peft_version, task_type, exclude_modules, modules_to_save,
                      layers_to_transform, layers_pattern)
    except re.error as exc:  # an invalid target_modules, exclude_modules or modules_to_save pattern
        return MatchResult({whole: []} if whole is not None else {}, [whole] if whole is not None else [],
                           error=f"invalid regex: {exc}")


def _match(target_modules: str | Iterable[str], whole: str | None, arch: Architecture,
           peft_version: str | None, task_type: str | None, exclude_modules: str | Iterable[str] | None,
           modules_to_save: Iterable[str] | None, layers_to_transform: int | Iterable[int] | None,
           layers_pattern: str | Iterable[str] | None) -> MatchResult:
    names, owner, params = _index(arch)
    try:
        entries, pattern = _entries(target_modules, arch, peft_version, task_type)
        converted = _convert(entries, pattern) if entries is not None and pattern else {}
    except ValueError as exc:
        return MatchResult({}, [], error=str(exc))

    matched: dict[str, list[str]] = {}
    if entries is None:
        matched[whole] = [n for n in names if re.fullmatch(whole, n)]
    else:
        test = entry_matcher(peft_version, layers_to_transform, layers_pattern)
        for entry in entries:
            if entry not in converted:
                matched[entry] = [n for n in names if test(entry, n)]
    parameters = {
        new: [p for p in params if _ends_in(p, new)]
        for new in sorted({p for targets in converted.values() for p in targets})
    }

    excluded = excluded_names(names, peft_version=peft_version, task_type=task_type,
                              exclude_modules=exclude_modules, modules_to_save=modules_to_save)
    hit = {n for found in matched.values() for n in found}
    targeted = [n for n in names if n in hit and n not in excluded]
    wrappable = layer_kinds(peft_version)
    unsupported = [n for n in targeted if owner[n].cls not in wrappable]
    if whole is not None and entries is not None:  # report a string as one entry
        matched = {whole: [n for n in names if n in hit]}
        converted = {whole: sorted(parameters)} if converted else {}
    unmatched = [e for e, found in matched.items() if not found and e not in converted]
    unmatched += [e for e, new in converted.items() if not any(parameters[p] for p in new)]
    return MatchResult(matched, unmatched, targeted, unsupported,
                       [n for n in names if n in hit and n in excluded], converted, parameters)


# What the well-known projection names do, and the roles that can stand in for each.
_ROLE_OF = {
    **dict.fromkeys(("q_proj", "query", "q", "wq", "Wq", "q_lin", "query_proj", "project_q"), "q"),
    **dict.fromkeys(("k_proj", "key", "k", "wk", "Wk", "k_lin", "key_proj", "project_k"), "k"),
    **dict.fromkeys(("v_proj", "value", "v", "wv", "Wv", "v_lin", "value_proj", "project_v"), "v"),
    **dict.fromkeys(("c_attn", "query_key_value", "qkv_proj", "qkv", "Wqkv", "W_pack", "wqkv"), "qkv"),
    **dict.fromkeys(("o_proj", "out_proj", "o", "out_lin"), "attn_out"),
    **dict.fromkeys(("gate_proj", "w1"), "gate"),
    **dict.fromkeys(("up_proj", "w3"), "up"),
    "gate_up_proj": "gate_up",
    **dict.fromkeys(("c_fc", "fc1", "wi", "dense_h_to_4h", "fc_in", "lin1"), "mlp_in"),
    **dict.fromkeys(("down_proj", "w2", "fc2", "dense_4h_to_h", "fc_out", "lin2"), "mlp_out"),
}
# names whose role depends on where they sit: (attention role, MLP role)
_BY_PLACE = {"dense": ("attn_out", None), "c_proj": ("attn_out", "mlp_out"), "wo": ("attn_out", "mlp_out"),
             "gate": (None, "router")}
_STANDS_IN = {
    "q": (("q",), ("qkv",)), "k": (("k",), ("qkv",)), "v": (("v",), ("qkv",)),
    "qkv": (("qkv",), ("q", "k", "v")),
    "gate": (("gate",), ("gate_up",), ("mlp_in",)), "up": (("up",), ("gate_up",), ("mlp_in",)),
    "gate_up": (("gate_up",), ("gate", "up"), ("mlp_in",)),
    "mlp_in": (("mlp_in",), ("gate_up",), ("gate", "up")),
    "attn_out": (("attn_out",),), "mlp_out": (("mlp_out",),),
}
_ATTN = re.compile(r"attn|attention", re.I)
_MLP = re.compile(r"mlp|ffn|feed_?forward|moe|expert|dense_?relu_?dense|intermediate", re.I)


def _place(segments: list[str]) -> str | None:
    """Whether a module path lies in the attention or the MLP part of a block."""
    inner = segments[:-1]
    if any(_ATTN.search(s) for s in inner):
        return "attn"
    if any(_MLP.search(s) for s in inner) or (inner and inner[-1] == "output"):
        return "mlp"  # BERT's layer.output.dense is the MLP's output projection
    return None


def _role(module: Module) -> str | None:
    """The role of a Linear/Conv1D inside a repeated block, when its name and place agree."""
    if module.cls not in LINEAR or "{" not in module.pattern:
        return None
    segments = [s for s in module.pattern.split(".") if not s.startswith("{")]
    place, leaf = _place(segments), segments[-1]
    if leaf in _BY_PLACE:
        attn, mlp = _BY_PLACE[leaf]
        role = attn if place == "attn" else mlp if place == "mlp" else None
        if leaf == "dense" and place == "mlp" and len(segments) > 1:
            role = {"intermediate": "mlp_in", "output": "mlp_out"}.get(segments[-2])
    else:
        role = _ROLE_OF.get(leaf)
    if role is None or place is None:
        return None
    if role in ("q", "k", "v", "qkv", "attn_out"):
        return role if place == "attn" else None
    return role if place == "mlp" else None


def _unique_suffix(module: Module, role: str, roles: dict[str, str | None],
                   names: list[str]) -> str | None:
    """The shortest name suffix of ``module`` that reaches only modules of ``role``."""
    segments = re.split(r"\.\{[a-z]\}\.", module.pattern)[-1].split(".")
    for size in range(1, len(segments) + 1):
        suffix = ".".join(segments[-size:])
        if all(roles.get(n) == role for n in names if _ends_in(n, suffix)):
            return suffix
    return None


def suggest_equivalent(entries: Iterable[str], arch: Architecture) -> list[str] | None:
    """What ``entries`` (names from another architecture) are called in ``arch``, or None.

    Each entry that names no module of ``arch`` is mapped by its role (attention q/k/v
    or fused qkv, attention output, MLP gate/up/fused input, MLP output) onto the
    modules of ``arch`` with that role, or the fused or split modules that stand in for
    it (``q_proj`` -> ``c_attn`` on GPT-2, ``gate_proj`` -> ``w1`` on Mixtral 4.x). Roles
    come from a module's place in its block (under an attention or an MLP submodule)
    and its name; a suggestion is the shortest name suffix that reaches modules of that
    role only. None when any entry has no clear counterpart.
    """
    names = arch.names()
    roles: dict[str, str | None] = {}
    by_role: dict[str, list[Module]] = {}
    for module in arch.modules:
        role = _role(module)
        roles.update(dict.fromkeys(module.names(), role))
        if role:
            by_role.setdefault(role, []).append(module)
    out: list[str] = []
    changed = False
    for entry in entries:
        if any(_ends_in(n, entry) for n in names):
            found = [entry]
        else:
            role = _ROLE_OF.get(entry)
            options = _STANDS_IN.get(role, ()) if role else ()
            choice = next((alt for alt in options if all(r in by_role for r in alt)), None)
            if choice is None:
                return None
            found = [_unique_suffix(m, r, roles, names) for r in choice for m in by_role[r]]
            if None in found:
                return None
            changed = True
        out.extend(f for f in found if f not in out)
    return out if changed else None
