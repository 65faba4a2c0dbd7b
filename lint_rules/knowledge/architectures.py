"""The modules of each transformers model type, read from the generated JSON.

``data/architectures/transformers-<version>.json`` is written by
``scripts/gen_architectures.py``; one file per transformers version, since module names
change between major versions (Mixtral's experts are ``nn.Linear`` ``w1``/``w2``/``w3``
in 4.x and fused parameters in 5.x). Module patterns carry placeholders for the index of
each ``nn.ModuleList`` child: ``{i}`` for the outermost list, ``{j}``, ``{k}`` ... for
nested ones (e.g. ``model.layers.{i}.block_sparse_moe.experts.{j}.w1``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Iterator, Union

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .. import installed
from .checkpoint_trees import fallback_task, tailor

DATA = Path(__file__).parent / "data" / "architectures"
TASKS = ("causal_lm", "seq2seq_lm", "sequence_classification", "base")
# the module kinds peft can wrap in a LoRA layer (its default dispatch)
TARGETABLE = frozenset(
    {"Linear", "Conv1D", "Embedding", "Conv1d", "Conv2d", "Conv3d", "MultiheadAttention"}
)
LINEAR = frozenset({"Linear", "Conv1D"})  # what peft's "all-linear" collects
_PLACEHOLDER = re.compile(r"\{([a-z])\}")

Spec = Union[int, tuple[int, ...]]  # a count (indices 0..n-1) or the explicit indices


@dataclass(frozen=True)
class Module:
    """One module pattern: its peft kind (or class name) and where it repeats.

    ``specs`` holds, per placeholder in order of appearance, how many children the list
    has or which indices share this structure. ``params`` names the 2+-D parameters a
    non-adaptable module holds itself (fused MoE experts, routers): what peft's
    ``target_parameters`` can reach.
    """

    pattern: str
    cls: str
    is_head: bool = False
    specs: tuple[Spec, ...] = ()
    params: tuple[str, ...] = ()

    @property
    def targetable(self) -> bool:
        return self.cls in TARGETABLE

    @property
    def leaf(self) -> str:
        """The last segment of the name: what a ``target_modules`` list entry names."""
        return self.pattern.rsplit(".", 1)[-1]

    def names(self) -> Iterator[str]:
        """Every full module name this pattern stands for."""
        if not self.specs:
            yield self.pattern
            return
        ranges = [range(s) if isinstance(s, int) else s for s in self.specs]
        template = _PLACEHOLDER.sub("{}", self.pattern)
        for idx in product(*ranges):
            yield template.format(*idx)


@dataclass(frozen=True)
class Architecture:
    """The modules of one model class of one transformers version."""

    model_type: str
    class_name: str
    transformers: str
    num_layers: int | None
    modules: tuple[Module, ...]
    task: str = "causal_lm"
    classifier: str | None = None  # the score/classifier head, when there are no output embeddings
    conversion: str | None = None  # transformers 5 checkpoint-conversion pattern ("" = unnamed)

    def names(self) -> list[str]:
        """Every full module name ``model.named_modules()`` lists (root excluded), by pattern."""
        return [name for m in self.modules for name in m.names()]

    def targetable(self) -> list[Module]:
        """The modules peft can adapt: Linear, Conv1D, Embedding, Conv1d/2d/3d, MultiheadAttention."""
        return [m for m in self.modules if m.targetable]

    def leaf_names(self) -> list[str]:
        """The last name segments of the targetable modules, sorted (``q_proj``, ``c_attn``)."""
        return sorted({m.leaf for m in self.targetable()})

    def heads(self) -> list[Module]:
        """The output embeddings, and the ``score``/``classifier`` head of a model without them."""
        return [m for m in self.modules if m.is_head]

    def output_heads(self) -> list[str]:
        """The full names of the output embeddings (``lm_head``), which ``all-linear`` skips."""
        return [n for m in self.heads() if m.pattern != self.classifier for n in m.names()]

    def with_layers(self, n: int) -> "Architecture":
        """The same architecture with ``n`` blocks per stack, as a small config would build.

        A list as long as ``num_layers`` gets ``n`` children; any other list (and any
        explicit index set) keeps only the indices below ``n``. Nested lists keep theirs.
        """
        def scale(spec: Spec) -> Spec:
            if isinstance(spec, int):
                return n if spec == self.num_layers else min(spec, n)
            return tuple(i for i in spec if i < n)

        modules = tuple(
            replace(m, specs=(scale(m.specs[0]), *m.specs[1:])) if m.specs else m
            for m in self.modules
        )
        return replace(self, num_layers=n, modules=modules)


def _version_of(path: Path) -> str:
    return path.stem.removeprefix("transformers-")


@lru_cache(maxsize=None)
def _versions() -> tuple[str, ...]:
    return tuple(sorted((_version_of(p) for p in DATA.glob("transformers-*.json")), key=Version))


def transformers_versions() -> list[str]:
    """The transformers versions there is architecture data for, ascending (a new list: the
    cached answer is not the caller's to change)."""
    return list(_versions())


def installed_transformers() -> str | None:
    """The installed transformers' version, from its metadata (never imported)."""
    return installed.version("transformers")


def _same_major(version: Version) -> str | None:
    same = [v for v in transformers_versions() if Version(v).major == version.major]
    return same[-1] if same else None


def pick_transformers(spec: str | None = None) -> str:
    """The data version to use for a transformers version or PEP 440 specifier.

    A version present in the data is used as is; any other version gets the newest data
    of its major version. A specifier gets the newest data version it allows, else the
    newest of the major version its clauses name (``==4.46.*`` -> the 4.x data). ``None``
    means the installed transformers, else the newest data.
    """
    versions = transformers_versions()
    if spec is None:
        spec = installed_transformers()
        if spec is None:
            return versions[-1]
    spec = spec.strip()
    try:
        version = Version(spec)
    except InvalidVersion:
        version = None
    if version is not None:
        if str(version) in versions:
            return str(version)
        return _same_major(version) or versions[-1]
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return versions[-1]
    allowed = [v for v in versions if specifier.contains(v, prereleases=True)]
    if allowed:
        return allowed[-1]
    for clause in specifier:
        try:
            named = Version(clause.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        if (picked := _same_major(named)) is not None:
            return picked
    return versions[-1]


def transformers_in(spec: str | None = None) -> list[str]:
    """Every data version a transformers version or specifier may mean, ascending.

    A specifier gives the data versions it allows (else what ``pick_transformers`` picks);
    a version, one; ``None`` the installed transformers', else every data version, since
    nothing says which the code runs with.
    """
    if spec is None and installed_transformers() is None:
        return transformers_versions()
    if spec is not None:
        try:
            specifier = SpecifierSet(spec.strip())
        except InvalidSpecifier:
            specifier = None
        allowed = [v for v in transformers_versions() if specifier and specifier.contains(v, prereleases=True)]
        if allowed:
            return allowed
    return [pick_transformers(spec)]


@lru_cache(maxsize=None)
def _load(version: str) -> dict:
    return json.loads((DATA / f"transformers-{version}.json").read_text(encoding="utf-8"))


def _data(transformers: str | None) -> dict:
    return _load(pick_transformers(transformers))


def model_types(transformers: str | None = None) -> list[str]:
    """Every model type with at least one class recorded, sorted."""
    return list(_model_types(pick_transformers(transformers)))


@lru_cache(maxsize=None)
def _model_types(version: str) -> tuple[str, ...]:
    return tuple(sorted(_load(version)["models"]))


def failures(transformers: str | None = None) -> dict[str, str]:
    """``"<model_type>/<task or config>" -> "ExceptionType: message"`` for builds that failed."""
    return dict(_data(transformers)["failures"])


def tasks(model_type: str, transformers: str | None = None) -> list[str]:
    """The tasks recorded for a model type (a subset of ``TASKS``)."""
    entry = _data(transformers)["models"].get(model_type, {})
    return [t for t in TASKS if t in entry]


def _modules(rows: list[list], heads: set[str], prefix: str = "") -> list[Module]:
    out = []
    for row in rows:
        pattern = f"{prefix}{row[0]}"
        specs = tuple(s if isinstance(s, int) else tuple(s) for s in row[2]) if len(row) > 2 else ()
        params = tuple(row[3]) if len(row) > 3 else ()
        out.append(Module(pattern, row[1], pattern in heads, specs, params))
    return out


def tree_modules(tree: dict, task: str) -> tuple[Module, ...]:
    """The modules of ``task``'s class in one recorded tree (a type's default or a variant),
    with the base model's modules spliced in under the class's prefix."""
    item = tree[task]
    heads = set(item["heads"]) | ({item["classifier"]} if "classifier" in item else set())
    modules = _modules(item["modules"], heads)
    prefix = item.get("prefix")
    if prefix:
        at = next(n for n, m in enumerate(modules) if m.pattern == prefix) + 1
        modules[at:at] = _modules(tree["base"]["modules"], heads, prefix + ".")
    return tuple(modules)


def _architecture(version: str, model_type: str, entry: dict, task: str) -> Architecture:
    """The Architecture of ``task``'s class in one recorded tree of ``model_type``."""
    item = entry[task]
    default = _load(version)["models"][model_type]
    return Architecture(model_type, item["class"], version, entry["num_layers"], tree_modules(entry, task),
                        task, item.get("classifier"), default.get("conversion"))


@lru_cache(maxsize=1024)
def _build(version: str, model_type: str, task: str) -> Architecture:
    return _architecture(version, model_type, _load(version)["models"][model_type], task)


def get_architecture(model_type: str, task: str = "causal_lm",
                     transformers: str | None = None, config: dict | None = None) -> Architecture | None:
    """The modules of ``model_type``'s class for ``task`` (see ``TASKS``), or None.

    When that task class does not exist (or failed to build) for the model type, the
    first recorded of base model, causal LM, seq2seq LM, sequence classification stands
    in, since the body's module names are what ``target_modules`` is matched against;
    ``Architecture.task`` tells which class was used.

    ``config`` (a checkpoint's config.json fields) gives the tree transformers builds from
    *that* config: its layer and expert counts, and the modules its structure fields
    (``feed_forward_proj``, ``word_embed_proj_dim`` ...) choose. None when the data cannot
    tell that tree exactly (a structure no recorded build had): never a default's guess.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    version = pick_transformers(transformers)
    entry = _load(version)["models"].get(model_type)
    if entry is None:
        return None
    if config is None:
        chosen = fallback_task(entry, task)
        return None if chosen is None else _build(version, model_type, chosen)
    return _tailored(version, model_type, task, json.dumps(config, sort_keys=True, default=str))


@lru_cache(maxsize=256)
def _tailored(version: str, model_type: str, task: str, config_json: str) -> Architecture | None:
    return tailor(_load(version)["models"][model_type], json.loads(config_json), task,
                  lambda entry, chosen: _architecture(version, model_type, entry, chosen))
