"""Which models a ``LoraConfig`` is applied to, and their architectures.

Sources, the first that names a model wins: a ``# lora-lint: model=<id>`` comment on the
call's statement; the file's flow (``m = AutoModelForCausalLM.from_pretrained("gpt2")`` and
``get_peft_model(m, config)``, ``PeftModel(m, config)``, ``m.add_adapter(config)``,
``inject_adapter_in_model(config, m)``, ``Trainer(model=..., peft_config=config)``), which
may name several (``flow.meet`` says which configs and models provably meet);
``base_model_name_or_path=``; a file-level pragma; ``model`` in ``[tool.lora-lint]``.
The flow is passed over when it names no model (a model built by a library call).

A name is trusted only when ``resolve_model`` finds it in a local ``config.json``, the
Hugging Face cache or the curated table. A *guess* from the name is not used: a
fine-tune called "my-llama-ft" may be anything, and wrong module names would put an
error on correct code. Unknown models leave the model-dependent rules silent, and so does a
checkpoint whose config builds a tree the data cannot tell exactly (see
``knowledge.checkpoint_trees``): its module names and counts are its own, never its type's defaults.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import libcst as cst

from .. import consulted
from .calls import LORA_CONFIG_NAMES, LoraCall
from .flow import Known, Origin, Tracer, meet
from .index import Binding, CallSite, FileIndex, terminal_name

_MODEL_FIRST = frozenset({
    "get_peft_model", "PeftModel", "PeftMixedModel", "PeftModelForCausalLM",
    "PeftModelForSeq2SeqLM", "PeftModelForSequenceClassification",
    "PeftModelForTokenClassification", "PeftModelForQuestionAnswering",
    "PeftModelForFeatureExtraction",
})
# Every name ``_applied`` knows an application by, the calls' and the keyword: what a rule that checks
# configs imported from another module needs to see in a file (its TRIGGERS and KEYWORD_TRIGGERS).
APPLYING = tuple(sorted({*_MODEL_FIRST, "inject_adapter_in_model", "add_adapter"}))
APPLYING_KEYWORDS = ("peft_config",)  # Trainer(model=..., peft_config=config)
_CLASS_TASKS = (
    ("ForCausalLM", "causal_lm"),
    ("LMHeadModel", "causal_lm"),
    ("ForSeq2SeqLM", "seq2seq_lm"),
    ("ForSequenceClassification", "sequence_classification"),
    ("ForMaskedLM", "masked_lm"),
)
_HEAD_CLASS = re.compile(r"For[A-Z][A-Za-z0-9]*$")  # transformers' head classes: BertForQuestionAnswering
_TASK_TYPES = {
    "CAUSAL_LM": "causal_lm",
    "SEQ_2_SEQ_LM": "seq2seq_lm",
    "SEQ_CLS": "sequence_classification",
    "FEATURE_EXTRACTION": "base",
}


ModelUse = tuple[str, "str | None", str]  # (model id, loading class, how it was found)


@dataclass(frozen=True)
class ModelInfo:
    """A resolved model: ``source`` says how it was found, for messages ("loaded by
    AutoModelForCausalLM.from_pretrained('gpt2')", "from base_model_name_or_path")."""

    name: str
    model_type: str
    task: str
    source: str
    architecture: Any  # lint_rules.knowledge.architectures.Architecture, newest allowed transformers
    others: tuple[Any, ...] = ()  # the same class in the older transformers the project allows
    loader: str | None = None  # the class whose from_pretrained loaded it, when the flow shows one
    names_known: bool = True  # False: ``loader`` is a head class the data does not record (``_builds``)


def task_of_class(class_name: str | None) -> str | None:
    """The task a model class implies (``AutoModelForCausalLM`` -> ``causal_lm``)."""
    if class_name is None:
        return None
    for suffix, task in _CLASS_TASKS:
        if class_name.endswith(suffix):
            return task
    return "base" if class_name == "AutoModel" else None


def _builds(class_name: str | None, recorded: str) -> bool:
    """Whether a model loaded by ``class_name`` can be the recorded class, whose module names the
    data lists. A head class whose task the data does not track builds another tree (the
    checkpoint's model under a prefix plus its own head: ``AutoModelForImageClassification``
    gives ``vit.*`` and ``classifier``), unless the recorded class has the same head
    (``T5ForConditionalGeneration``)."""
    if class_name is None or task_of_class(class_name) is not None:
        return True
    head = _HEAD_CLASS.search(class_name)
    return head is None or recorded.endswith(head.group())


_resolved: dict[str, tuple[Any, frozenset]] = {}


def checkpoint(name: str) -> Any:
    """What ``name`` resolves to (``knowledge.models.Resolution``: its config fields, its own
    head), from the local config, the Hugging Face cache or the curated table; never a guess."""
    return _resolve(name)


def _resolve(name: str) -> Any:
    """``resolve_model``, reused while the files it read are unchanged; what it read is noted for
    every file that names the model (the caches key on it)."""
    known = _resolved.get(name)
    if known is None or not consulted.current(known[1]):
        from ..knowledge.models import resolve_model

        with consulted.recording() as inputs:
            resolution = resolve_model(name)
        if len(_resolved) >= 256:
            _resolved.clear()
        known = _resolved[name] = (None if resolution is None or resolution.source == "guess" else resolution,
                                   frozenset(inputs))
    consulted.replay(known[1])
    return known[0]


@lru_cache(maxsize=256)
def _architectures(model_type: str, task: str, transformers: str | None, config: str) -> tuple[Any, ...]:
    """The checkpoint's architecture (``config``: its config.json fields, as JSON) in each
    transformers data version allowed, newest first; none when the data cannot tell the tree
    that config builds in one of them (a module missing there might exist in the other), or
    for a task the data does not record (e.g. masked LM): the model then stays unknown."""
    from ..knowledge.architectures import TASKS, get_architecture, model_types, transformers_in

    if task not in TASKS:
        return ()
    fields = json.loads(config)
    found = tuple(get_architecture(model_type, task, transformers=v, config=fields)
                  for v in reversed(transformers_in(transformers)) if model_type in model_types(v))
    return () if None in found else found


def outside_architectures(model: ModelInfo, transformers: str | None) -> list[tuple[str, Any]]:
    """``(version, architecture)`` of ``model``'s class in each transformers data version the
    check does not use (``transformers`` allows it not), newest first; a version whose data
    cannot tell the tree the checkpoint's config builds is left out."""
    from ..knowledge.architectures import get_architecture, model_types, transformers_in, transformers_versions

    resolution = _resolve(model.name)
    if resolution is None:
        return []
    used = set(transformers_in(transformers))
    found = [(v, get_architecture(model.model_type, model.architecture.task, transformers=v, config=resolution.config))
             for v in reversed(transformers_versions()) if v not in used and model.model_type in model_types(v)]
    return [(v, arch) for v, arch in found if arch is not None and arch.class_name == model.architecture.class_name]


def models_for(index: FileIndex, site: CallSite | None, call: LoraCall, pragma_statements: set[int],
               flow: list[ModelUse] | None, ctx: Any) -> tuple[ModelInfo, ...]:
    """The models ``call`` is applied to, resolved to architectures: those of the first
    source that names any (see the module's docstring); names not resolved are left out."""
    for group in _candidates(index, site, call, pragma_statements, flow, ctx):
        found: dict[tuple[str, str], ModelInfo] = {}
        for name, class_name, source in group:
            info = _model_info(name, class_name, source, call, ctx)
            if info is not None:
                found.setdefault((info.name, info.task), info)
        return tuple(found.values())
    return ()


def _model_info(name: str, class_name: str | None, source: str, call: LoraCall, ctx: Any) -> ModelInfo | None:
    resolution = _resolve(name)
    if resolution is None:
        return None
    task = task_of_class(class_name)
    if task is None:
        task_type = call.value("task_type")
        task = _TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
    task = task or resolution.task
    archs = _architectures(resolution.model_type, task, ctx.transformers,
                           json.dumps(resolution.config, sort_keys=True, default=str))
    if not archs:
        return None
    return ModelInfo(name, resolution.model_type, task, source, archs[0], archs[1:], class_name,
                     names_known=_builds(class_name, archs[0].class_name))


def _candidates(index: FileIndex, site: CallSite | None, call: LoraCall, pragma_statements: set[int],
                flow: list[ModelUse] | None, ctx: Any) -> Iterator[list[ModelUse]]:
    if site is None:  # a config made in another module: only its uses here tell the model
        if flow:
            yield flow
        return
    for name, statement in index.pragmas:
        if statement is not None and statement is site.statement:
            yield [(name, None, "from the `# lora-lint: model=` comment on this call")]
    if flow:
        yield flow
    base = call.value("base_model_name_or_path")
    if isinstance(base, str) and base:
        yield [(base, None, "from base_model_name_or_path")]
    for name, statement in index.pragmas:
        if statement is None or id(statement) not in pragma_statements:
            yield [(name, None, "from the file's `# lora-lint: model=` comment")]
            break
    if ctx.model:
        yield [(ctx.model, None, "from `model` in [tool.lora-lint]")]


@dataclass
class Applications:
    """Where configs meet models (see ``flow.meet``): ``models`` for each ``LoraConfig(...)``
    call of this file, the models it is provably applied to; ``imported`` the same for
    each config call of another module and the expression here that applies it (where
    its findings are reported), with the origin that found it (its index and path)."""

    models: dict[cst.Call, list[ModelUse]] = field(default_factory=dict)
    imported: dict[tuple[cst.Call, cst.BaseExpression], tuple[Origin, list[ModelUse]]] = field(default_factory=dict)


def applications(index: FileIndex, tracer: Tracer) -> Applications:
    """Every application of a config to a model in the file, in one sweep over its calls."""
    found = Applications()
    for site in index.calls:
        for model_expr, config_expr in _applied(site):
            configs = Known.of((o, _config_call(o)) for o in tracer.origins(config_expr, site))
            if not configs.values:
                continue
            uses: dict[object, list[ModelUse]] = {}
            for config, origins in configs.values.items():
                assert isinstance(config, cst.Call)
                if origins[0].path is None:
                    uses[config] = found.models.setdefault(config, [])
                else:
                    uses[config] = found.imported.setdefault((config, config_expr), (origins[0], []))[1]
            models = Known.of(_model_origins(tracer, model_expr, site))
            for config, model in meet(configs, models):
                name, class_name = model  # type: ignore[misc]
                how = (f"loaded by {class_name}.from_pretrained({name!r})" if class_name
                       else f"passed to {terminal_name(site.node.func)}()")
                if not any(use[:2] == (name, class_name) for use in uses[config]):
                    uses[config].append((name, class_name, how))
    return found


def _config_call(origin: Origin) -> cst.Call | None:
    node = origin.node
    if isinstance(node, cst.Call) and origin.index.qualname(node.func, origin.at.scope) in LORA_CONFIG_NAMES:
        return node
    return None


def _model_origins(tracer: Tracer, expr: cst.BaseExpression, site: CallSite
                   ) -> Iterator[tuple[Origin, tuple[str, str | None] | None]]:
    """Where the model can come from, each with its ``(id, loading class)`` when known: a
    model id string, or ``X.from_pretrained(<id>)`` (not at a pinned revision: another
    revision's config may name other modules, as phi-2's remote code did)."""
    for origin in tracer.origins(expr, site, same=_same_model):
        node = origin.node
        if node is None:
            yield origin, None
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value == "from_pretrained":
            positional, keywords = _arguments(node)
            revision = keywords.get("revision")
            id_expr = positional[0] if positional else keywords.get("pretrained_model_name_or_path")
            if id_expr is None or (revision is not None and _value(origin, revision) != "main"):
                yield origin, None
                continue
            class_name = terminal_name(node.func.value)
            for sub in origin.trace(id_expr, tracer):
                value = _value(sub, sub.node) if sub.node is not None else None
                yield sub, ((value, class_name) if isinstance(value, str) else None)
        else:
            value = _value(origin, node)
            yield origin, ((value, None) if isinstance(value, str) else None)


def _value(origin: Origin, expr: cst.BaseExpression) -> Any:
    return origin.index.value_of(expr, origin.at.scope, origin.at.order)


def _same_model(binding: Binding) -> bool:
    """``model = prepare_model_for_kbit_training(model)``, ``model = model.to(...)``,
    ``model = get_peft_model(model, config)``: the same model, transformed."""
    value = binding.value
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and func.attr.value == "from_pretrained":
        return False  # name = "gpt2"; name = Auto...from_pretrained(name): loaded from the id
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == binding.name:
        return True
    return any(isinstance(a.value, cst.Name) and a.value.value == binding.name for a in value.args)


def _applied(site: CallSite) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression]]:
    """``(model, config)`` expressions when ``site`` applies a config to a model."""
    name = terminal_name(site.node.func)
    if name is None:
        return
    positional, keywords = _arguments(site.node)
    if name in _MODEL_FIRST:
        model = positional[0] if positional else keywords.get("model")
        config = positional[1] if len(positional) > 1 else keywords.get("peft_config")
    elif name == "inject_adapter_in_model":
        config = positional[0] if positional else keywords.get("peft_config")
        model = positional[1] if len(positional) > 1 else keywords.get("model")
    elif name == "add_adapter" and isinstance(site.node.func, cst.Attribute):
        model = site.node.func.value
        for config in (*positional, keywords.get("adapter_config"), keywords.get("peft_config")):
            if config is not None:
                yield model, config
        return
    elif "peft_config" in keywords and "model" in keywords:
        model, config = keywords["model"], keywords["peft_config"]
    else:
        return
    if model is not None and config is not None:
        yield model, config


def _arguments(call: cst.Call) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
    """A call's positional argument values up to the first ``*``/``**`` (after one, no
    position is known), and its keyword argument values by name."""
    positional = []
    for arg in call.args:
        if arg.star:
            break
        if arg.keyword is None:
            positional.append(arg.value)
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    return positional, keywords
