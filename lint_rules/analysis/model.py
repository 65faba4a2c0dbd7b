"""Which model a ``LoraConfig`` is applied to, and that model's architecture.

Candidates, first found wins: a ``# lora-lint: model=<id>`` comment on the call's
statement; the file's own flow (``m = AutoModelForCausalLM.from_pretrained("gpt2")`` and
``get_peft_model(m, config)``, ``PeftModel(m, config)``, ``m.add_adapter(config)``,
``inject_adapter_in_model(config, m)``, ``Trainer(model=..., peft_config=config)``);
``base_model_name_or_path=``; a file-level pragma; ``model`` in ``[tool.lora-lint]``.
The in-file flow is skipped when it cannot be resolved (a model built by a helper).

A name is trusted only when ``resolve_model`` finds it in a local ``config.json``, the
Hugging Face cache or the curated table. A *guess* from the name is not used: a
fine-tune called "my-llama-ft" may be anything, and wrong module names would put an
error on correct code. Unknown models leave the model-dependent rules silent.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

import libcst as cst

from .calls import LoraCall
from .index import CallSite, FileIndex, terminal_name

_MODEL_FIRST = frozenset({
    "get_peft_model", "PeftModel", "PeftMixedModel", "PeftModelForCausalLM",
    "PeftModelForSeq2SeqLM", "PeftModelForSequenceClassification",
    "PeftModelForTokenClassification", "PeftModelForQuestionAnswering",
    "PeftModelForFeatureExtraction",
})
_CLASS_TASKS = (
    ("ForCausalLM", "causal_lm"),
    ("LMHeadModel", "causal_lm"),
    ("ForSeq2SeqLM", "seq2seq_lm"),
    ("ForSequenceClassification", "sequence_classification"),
    ("ForMaskedLM", "masked_lm"),
)
_TASK_TYPES = {
    "CAUSAL_LM": "causal_lm",
    "SEQ_2_SEQ_LM": "seq2seq_lm",
    "SEQ_CLS": "sequence_classification",
    "FEATURE_EXTRACTION": "base",
}


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


def task_of_class(class_name: str | None) -> str | None:
    """The task a model class implies (``AutoModelForCausalLM`` -> ``causal_lm``)."""
    if class_name is None:
        return None
    for suffix, task in _CLASS_TASKS:
        if class_name.endswith(suffix):
            return task
    return "base" if class_name == "AutoModel" else None


@lru_cache(maxsize=256)
def _resolve(name: str) -> Any:
    from ..knowledge.models import resolve_model

    resolution = resolve_model(name)
    return None if resolution is None or resolution.source == "guess" else resolution


def applications(index: FileIndex) -> dict[int, list[tuple[CallSite, cst.BaseExpression]]]:
    """Where configs are applied to models: ``id(LoraConfig call node)`` -> ``(site, model)``,
    found in one sweep over the file's calls."""
    found: dict[int, list[tuple[CallSite, cst.BaseExpression]]] = {}
    for site in index.calls:
        for model, config in _applied(site):
            node = _config_call(index, config, site)
            if node is not None:
                found.setdefault(id(node), []).append((site, model))
    return found


@lru_cache(maxsize=256)
def _architectures(model_type: str, task: str, transformers: str | None) -> tuple[Any, ...]:
    """The model's architecture in each transformers data version allowed, newest first
    (none for a task the data does not record, e.g. masked LM: the model stays unknown)."""
    from ..knowledge.architectures import TASKS, get_architecture, transformers_in

    if task not in TASKS:
        return ()
    found = (get_architecture(model_type, task, transformers=v) for v in reversed(transformers_in(transformers)))
    return tuple(arch for arch in found if arch is not None)


def model_for(index: FileIndex, site: CallSite, call: LoraCall, pragma_statements: set[int],
              applied: dict[int, list[tuple[CallSite, cst.BaseExpression]]], ctx: Any) -> ModelInfo | None:
    """The model ``call`` is applied to, resolved to an architecture, else ``None``."""
    uses = applied.get(id(site.node), [])
    for name, class_name, source in _candidates(index, site, call, pragma_statements, uses, ctx):
        resolution = _resolve(name)
        if resolution is None:
            return None
        task = task_of_class(class_name)
        if task is None:
            task_type = call.value("task_type")
            task = _TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
        task = task or resolution.task
        archs = _architectures(resolution.model_type, task, ctx.transformers)
        if not archs:
            return None
        return ModelInfo(name, resolution.model_type, task, source, archs[0], archs[1:])
    return None


def _candidates(index: FileIndex, site: CallSite, call: LoraCall, pragma_statements: set[int],
                uses: list[tuple[CallSite, cst.BaseExpression]], ctx: Any) -> Iterator[tuple[str, str | None, str]]:
    for name, statement in index.pragmas:
        if statement is not None and statement is site.statement:
            yield name, None, "from the `# lora-lint: model=` comment on this call"
    flow = _applied_to(index, uses)
    if flow is not None:
        name, class_name, how = flow
        yield name, class_name, how
    base = call.value("base_model_name_or_path")
    if isinstance(base, str) and base:
        yield base, None, "from base_model_name_or_path"
    for name, statement in index.pragmas:
        if statement is None or id(statement) not in pragma_statements:
            yield name, None, "from the file's `# lora-lint: model=` comment"
            break
    if ctx.model:
        yield ctx.model, None, "from `model` in [tool.lora-lint]"


def _applied_to(index: FileIndex, uses: list[tuple[CallSite, cst.BaseExpression]]
                ) -> tuple[str, str | None, str] | None:
    """The one model id every in-file application of this config agrees on."""
    found: set[tuple[str, str | None, str]] = set()
    for site, model_expr in uses:
        model = _model_of(index, model_expr, site.scope, site.order)
        if model is None:
            return None
        name, class_name = model
        how = (f"loaded by {class_name}.from_pretrained({name!r})" if class_name
               else f"passed to {terminal_name(site.node.func)}()")
        found.add((name, class_name, how))
    if len({(n, c) for n, c, _ in found}) != 1:
        return None
    return min(found)


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


def _config_call(index: FileIndex, expr: cst.BaseExpression, site: CallSite) -> cst.Call | None:
    """The call that built the config ``expr`` refers to (itself, or a name bound once to it)."""
    if isinstance(expr, cst.Call):
        return expr
    if isinstance(expr, cst.Name):
        binding = index.binding_of(expr, site.scope)
        if binding is not None and binding.kind == "assign" and isinstance(binding.value, cst.Call):
            return binding.value
    return None


def _model_of(index: FileIndex, expr: cst.BaseExpression, scope: Any, order: int | None,
              depth: int = 0) -> tuple[str, str | None] | None:
    """``(model id, loading class)`` for a model expression, else ``None``."""
    if depth > 10:
        return None
    value = index.value_of(expr, scope, order)
    if isinstance(value, str):
        return value, None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
            and expr.func.attr.value == "from_pretrained":
        positional, keywords = _arguments(expr)
        if "revision" in keywords and index.value_of(keywords["revision"], scope, order) != "main":
            return None  # another revision's config may name other modules (phi-2 before native Phi)
        id_expr = positional[0] if positional else keywords.get("pretrained_model_name_or_path")
        model_id = index.value_of(id_expr, scope, order) if id_expr is not None else None
        return (model_id, terminal_name(expr.func.value)) if isinstance(model_id, str) else None
    if not isinstance(expr, cst.Name):
        return None
    found = index.lookup(expr.value, scope)
    if found is None:
        return None
    results = set()
    for binding in found[1]:
        if not binding.bound_at(scope, order):
            continue
        if binding.kind != "assign":
            return None
        if _derives_from(binding.value, expr.value):
            continue  # model = prepare_model_for_kbit_training(model), model.to(...)
        result = _model_of(index, binding.value, binding.scope, binding.order, depth + 1)
        if result is None:
            return None
        results.add(result)
    return results.pop() if len(results) == 1 else None


def _derives_from(value: cst.BaseExpression, name: str) -> bool:
    """``value`` is a call on or with ``name`` itself (the same model, transformed)."""
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == name:
        return True
    return any(isinstance(a.value, cst.Name) and a.value.value == name for a in value.args)
