"""peft's ``trainable_token_indices``: which embedding rows become trainable, and where.

A list names rows of the input embedding; a dict maps module names (matched by name suffix,
as peft does) to rows. Each wrapped module gets a ``(rows, embedding dim)`` delta. With tied
weights, the modules tied to the input embedding share its delta instead of getting their own.
"""
from __future__ import annotations


def _input_embeddings_name(model, named) -> str:
    """peft's name for the input embedding (``embed_tokens`` when the model does not say)."""
    from pytest_lora.targeting import original_module

    if not hasattr(model, "get_input_embeddings"):
        return "embed_tokens"
    embeddings = original_module(model.get_input_embeddings())
    return next((name for name, module in named if module is embeddings), "embed_tokens")


def tied_with_embedding(model) -> set[str]:
    """Names of the modules whose weight is tied to the input embedding (peft's own lookup, which
    every ``get_peft_model`` runs: what it raises, peft raises)."""
    try:
        from peft.utils.other import _get_module_names_tied_with_embedding as tied
    except ImportError:  # a peft without the lookup ties nothing here
        return set()
    return set(tied(model))


def _skipped_as_tied(model, named, layers: dict, ensure_tying: bool) -> tuple[set[str], bool]:
    """(target names left to weight tying, whether tied targets ask for different rows)."""
    tied_names = tied_with_embedding(model)
    embedding = _input_embeddings_name(model, named)
    tied_keys = [key for key in layers
                 if embedding.endswith(key)
                 or any(name.endswith(key) or key in name.split(".") for name in tied_names)]
    if len(tied_keys) < 2:
        return set(), False
    mismatch = any(layers[key] != layers[tied_keys[0]] for key in tied_keys[1:])
    if mismatch and ensure_tying:
        conflict = ", ".join(f"{key}: {layers[key]}" for key in tied_keys)
        raise ValueError("Cannot ensure weight tying when different token indices are specified for tied layers. "
                         f"Conflicting layers: {conflict}. "
                         "Please use the same indices for all tied layers or set ensure_weight_tying=False.")
    return (set() if mismatch else set(tied_keys) & tied_names), mismatch


def token_deltas(model, named, config, lora_targets: set[str]) -> list[tuple[str, int, object]]:
    """(module name, trainable elements, dtype) of each delta ``trainable_token_indices`` creates.

    Raises what peft raises: a layer also in ``modules_to_save`` or adapted by LoRA, a name that
    matches no module, a row past the embedding's end.
    """
    indices = config.trainable_token_indices
    if indices is None:
        return []
    layers = dict(indices) if isinstance(indices, dict) else {_input_embeddings_name(model, named): indices}
    for key in layers:
        if key in (config.modules_to_save or ()):
            raise ValueError("The embedding layer is already marked to be trained fully, either specify "
                             f'`modules_to_save=[..., "{key}", ...]` or '
                             f"`trainable_tokens={{'{key}': x}}` but not both.")
    tied = bool(model.config.to_dict().get("tie_word_embeddings", False)) if hasattr(model, "config") else False
    skipped: set[str] = set()
    if len(layers) > 1 and tied:
        skipped, _ = _skipped_as_tied(model, named, layers, bool(getattr(config, "ensure_weight_tying", False)))
    deltas = []
    for key, rows in layers.items():
        if key in skipped:
            continue
        matches = [(name, module) for name, module in named if name.endswith(key)]
        if not matches:
            raise ValueError(f"Target modules {{{key!r}}} not found in the base model. "
                             "Please check the target modules and try again.")
        for name, module in matches:
            if name in lora_targets:
                raise TypeError(f"trainable_token_indices cannot be applied to {name}: LoRA adapts it too")
            deltas.append((name, len(rows) * _row_width(module), module.weight.dtype))
            size = module.weight.shape[0]
            for row in rows:
                if not -size <= row < size:
                    raise IndexError(f"index {row} is out of bounds for dimension 0 with size {size}")
    return deltas


def _row_width(module) -> int:
    """An embedding's dim, or a Linear head's input features (peft's choice)."""
    width = getattr(module, "embedding_dim", None) or getattr(module, "in_features", None)
    if width is None:
        raise AttributeError(f"'{type(module).__name__}' object has no attribute 'in_features'")
    return width
