"""Full-size models on the ``meta`` device: real module tree and shapes, no memory, no weights.

torch and transformers are imported inside the functions, and never reach the network.
"""
from __future__ import annotations

import os
import warnings

from lint_rules.knowledge.models import TASKS, resolve_model
from pytest_lora.extras import offline, torch_dtype

# task -> transformers auto class
AUTO_CLASSES = {
    "causal_lm": "AutoModelForCausalLM",
    "seq2seq_lm": "AutoModelForSeq2SeqLM",
    "masked_lm": "AutoModelForMaskedLM",
    "sequence_classification": "AutoModelForSequenceClassification",
    "base": "AutoModel",
}

# config.json keys that describe the file, not the model
_NOT_FIELDS = ("transformers_version", "auto_map", "quantization_config", "torch_dtype", "dtype")


def build_skeleton(name_or_path, task: str | None = None, dtype=None):
    """Build ``name_or_path`` at full size on the ``meta`` device and return the model.

    The name is resolved by ``lint_rules.knowledge.models.resolve_model`` (local dir,
    hub cache, curated table, name guess; a guess builds the type's default sizes and
    warns). ``task`` is one of ``TASKS`` (default: the resolution's task); ``dtype`` is
    a ``torch.dtype`` or its name, ``bf16`` and ``fp16`` included (default float32).
    Raises ``LookupError`` when the name resolves to nothing and ``ValueError`` for an
    unknown task or a model type this transformers does not know.
    """
    resolution = resolve_model(name_or_path)
    if resolution is None:
        raise LookupError(f"cannot resolve {os.fspath(name_or_path)!r} to a model type")
    task = task or resolution.task
    if task not in AUTO_CLASSES:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if resolution.source == "guess":
        warnings.warn(resolution.note, stacklevel=2)
    import torch
    import transformers  # before offline(): the hub reads the flags once, at its first import

    with offline():
        fields = {k: v for k, v in resolution.config.items()
                  if not k.startswith("_") and k not in _NOT_FIELDS}
        try:
            config = transformers.AutoConfig.for_model(resolution.model_type, **fields)
        except ValueError as exc:
            raise ValueError(f"{resolution.name}: {exc}") from None
        auto_class = getattr(transformers, AUTO_CLASSES[task])
        with torch.device("meta"):
            model = auto_class.from_config(config, dtype=torch_dtype(dtype) or torch.float32)
            if resolution.config.get("tie_word_embeddings") is False:
                _untie_output_embeddings(model)
    model.config._name_or_path = str(name_or_path)  # as from_pretrained would: names the model in --lora-report
    return model


def _untie_output_embeddings(model) -> None:
    """Give the head its own weight where the class ties it regardless of the config.

    T5 ties ``lm_head`` to the embeddings on construction even when config.json says
    ``tie_word_embeddings: false`` (Flan-T5); loading such a checkpoint unties them, so
    the skeleton does too.
    """
    import torch

    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or embeddings is None or head.weight is not embeddings.weight:
        return
    head.weight = torch.nn.Parameter(torch.empty_like(head.weight))
    tied = getattr(model, "all_tied_weights_keys", None) or {}
    for key in [k for k in tied if k.startswith("lm_head.")]:
        del tied[key]


def count_parameters(model, *, trainable_only: bool = False) -> int:
    """Number of parameter elements, each tensor counted once (tied weights once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
