"""What LORA007, LORA012 and LORA203 share: the class a model was loaded with, the names of
the modules it has, and the statically known values of the keywords they read."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from ..analysis import UNKNOWN, LoraCall, ModelInfo
from ..analysis.model import checkpoint, outside_architectures, task_of_class
from ..knowledge.architectures import TASKS, get_architecture, transformers_in
from ..knowledge.matching import bounded
from ..rule import RuleContext

# The classification classes a task type's heads belong to, by class-name suffix.
CLASSIFIERS = {"ForSequenceClassification": "SEQ_CLS", "ForTokenClassification": "TOKEN_CLS"}


def classifier(model: ModelInfo) -> str | None:
    """``SEQ_CLS``/``TOKEN_CLS`` when the flow shows the model loaded by a classification class."""
    loader = model.loader or ""
    return next((task for suffix, task in CLASSIFIERS.items() if loader.endswith(suffix)), None)


def loaded_task(model: ModelInfo) -> str | None:
    """The task of the class that loaded the model (``causal_lm`` for ``AutoModelForCausalLM``)."""
    return task_of_class(model.loader)


def described(call: LoraCall, model: ModelInfo) -> str:
    """The model for a message: with its recorded class when that is the class that loaded it."""
    from ._targets import model_words

    if model.loader is None or loaded_task(model) == model.architecture.task:
        return model_words(call, model)
    return f"{model.name} ({model.source})"


def new_head(model: ModelInfo) -> bool:
    """Whether the classification head is created at loading, randomly initialised: the
    checkpoint itself is not such a classifier (its config's ``architectures``, or its curated task)."""
    kind = classifier(model)
    found = checkpoint(model.name)
    if kind is None or found is None:
        return False
    suffix = next(s for s, task in CLASSIFIERS.items() if task == kind)
    architectures = found.config.get("architectures")
    if architectures is not None and not isinstance(architectures, list):
        return False
    if any(isinstance(a, str) and a.endswith(suffix) for a in architectures or ()):
        return False
    return not (kind == "SEQ_CLS" and found.task == "sequence_classification")


def outside_note(model: ModelInfo, ctx: RuleContext, has: Callable[[Any], bool]) -> str:
    """For a message saying ``model`` lacks some modules: which transformers that was checked
    against and in which other version there is data for it has them (``has(architecture)``),
    when there is one (GPT-NeoX's output layer is ``embed_out`` in transformers 4.x, ``lm_head``
    in 5.x); else nothing."""
    having = [v for v, arch in outside_architectures(model, ctx.transformers) if has(arch)]
    if not having:
        return ""
    checked = ", ".join(transformers_in(ctx.transformers))
    why = "the installed one" if ctx.transformers is None else "the one the project allows"
    return (f" (checked against transformers {checked}, {why}; in transformers {', '.join(having)} they match "
            f"modules of the model: if the code runs with that, set target-transformers-version)")


def module_names(model: ModelInfo, transformers: Iterable[str]) -> set[str] | None:
    """Every module name the loaded model has, in every allowed transformers data version: those
    of the class that loaded it when the data records that class, else of every class the data
    records for the model type (a name missing from all of them is in none). None: unknown."""
    task = loaded_task(model)
    archs = [model.architecture, *model.others]
    if model.loader is None or task not in TASKS or any(arch.task != task for arch in archs):
        archs = [arch for version in transformers for each in TASKS
                 if (arch := get_architecture(model.model_type, each, transformers=version)) is not None]
    if not archs:
        return None
    return {name for arch in archs for name in arch.names()}


def strings(value: Any) -> list[str] | None:
    """A list/tuple/set of strings as a list, else None (a string, an unknown, a mixed list)."""
    if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value):
        return sorted(value) if isinstance(value, set) else list(value)
    return None


def known(call: LoraCall, name: str, default: Any = None) -> Any:
    """The keyword's value when provable and not behind a version guard (omitted: ``default``)."""
    if call.is_guarded(name):
        return UNKNOWN
    return call.value(name, {name: default})


def safe_regex(key: str) -> bool:
    """Whether ``key`` is a valid regex that can be evaluated safely on module names."""
    if not bounded(key):
        return False
    try:
        re.compile(key)
    except re.error:
        return False
    return True
