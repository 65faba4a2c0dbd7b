"""What the training-script rules (LORA008-LORA019, LORA205) share: the file's model lifecycle,
and the hand-written ways a script may change what trains."""
from __future__ import annotations

from typing import Any, Iterable

import libcst as cst

from ..analysis import lifecycle
from ..analysis.index import FileIndex
from ..analysis.lifecycle import History, Lifecycle, Step

# what the training-script rules need to see called or passed (their TRIGGERS, besides the names of
# model.APPLYING that the config rules see already): LORA000 reports a file any rule looks at
TRAINING_TRIGGERS = (
    "AutoPeftModel", "AutoPeftModelForCausalLM", "AutoPeftModelForFeatureExtraction",
    "AutoPeftModelForQuestionAnswering", "AutoPeftModelForSeq2SeqLM", "AutoPeftModelForSequenceClassification",
    "AutoPeftModelForTokenClassification", "gradient_checkpointing_enable", "load_adapter", "merge_adapter",
    "merge_and_unload", "prepare_model_for_int8_training", "prepare_model_for_kbit_training",
    "resize_token_embeddings",
)
TRAINING_KEYWORDS = ("fp16", "load_best_model_at_end", "metric_for_best_model")
# calls that change which parameters train, or load weights into an adapter, by other means
_HAND_MADE = ("requires_grad_", "set_adapter", "load_adapter", "add_adapter", "set_peft_model_state_dict",
              "load_state_dict", "mark_only_lora_as_trainable", "enable_adapter_layers", "train_adapter",
              "load_state", "load_checkpoint", "load_model", "load_checkpoint_in_model")


def lifecycle_of(calls: Any, ctx: Any) -> Lifecycle | None:
    return lifecycle.of(calls, ctx)


def sets_trainable(index: FileIndex) -> bool:
    """Whether the file may change by hand what trains or what an adapter holds: ``p.requires_grad = ...``,
    ``requires_grad_()``, ``set_adapter``, ``load_state_dict`` and the like."""
    if any(site.write and site.node.attr.value == "requires_grad" for site in index.attribute_sites):
        return True
    return any(index.calls_by_name.get(name) for name in _HAND_MADE) or "requires_grad" in index.attribute_writes.get("", set())


def certain_in_all(histories: Iterable[History], test) -> list[Step] | None:
    """The step ``test(history)`` picks in each history, when every history is known and picks a
    certain step; else None."""
    found: list[Step] = []
    for history in histories:
        if not history.known:
            return None
        step = test(history)
        if step is None or not step.certain:
            return None
        found.append(step)
    return found or None


def one_node(steps: list[Step]) -> Step | None:
    """The step when all are the same call."""
    return steps[0] if steps and all(s.node is steps[0].node for s in steps) else None


def where(step: Step, fallback: cst.CSTNode) -> cst.CSTNode:
    """Where a finding about ``step`` is reported: the call, when it is in the linted file."""
    return step.node if step.path is None else fallback


def line_of(step: Step) -> str:
    """``get_peft_model(...)`` named for a message."""
    func = step.node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "call")
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and name in ("from_pretrained", "from_config"):
        return f"{func.value.value}.{name}()"
    return f"{name}()"
