"""estimate_lora_memory: what a LoRA fine-tune holds in memory, term by term."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pytest_lora.extras import require_models, torch_dtype

GIB = 1024**3
# optimizer -> state tensors kept per trainable tensor, each the parameter's size
OPTIMIZER_STATES = {"adamw": 2, "adam": 2, "sgd": 0}
# torch's Adam/AdamW also keep a float32 scalar ``step`` per parameter tensor
_STEP_BYTES = {"adamw": 4, "adam": 4, "sgd": 0}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of each term; ``activations`` is None unless batch size and sequence length were given."""

    base_weights: int
    adapter_weights: int
    gradients: int
    optimizer_states: int
    activations: int | None
    total_params: int
    trainable_params: int

    @property
    def total(self) -> int:
        return (self.base_weights + self.adapter_weights + self.gradients + self.optimizer_states
                + (self.activations or 0))

    def fits(self, gib: float) -> bool:
        """Whether the total fits in ``gib`` GiB (framework and allocator overhead not included)."""
        return self.total <= gib * GIB

    def __str__(self) -> str:
        rows = [("frozen base weights", self.base_weights), ("adapter weights", self.adapter_weights),
                ("gradients", self.gradients), ("optimizer states", self.optimizer_states)]
        if self.activations is not None:
            rows.append(("activations (estimate)", self.activations))
        rows.append(("total", self.total))
        lines = [f"{label:<24} {size / GIB:>9.3f} GiB" for label, size in rows]
        share = 100 * self.trainable_params / self.total_params if self.total_params else 0.0
        lines.append(f"trainable {self.trainable_params:,} of {self.total_params:,} parameters ({share:.4f}%)")
        return "\n".join(lines)


def _activation_bytes(model, batch_size: int, seq_len: int, dtype) -> int:
    """Per-layer activations of a transformer trained without recomputation.

    Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models" (2022):
    ``s*b*h*(34 + 5*a*s/h)`` bytes per layer in 16-bit; scaled here to the dtype's width.
    """
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    hidden, heads, layers = config.hidden_size, config.num_attention_heads, config.num_hidden_layers
    per_layer = seq_len * batch_size * hidden * (34 + 5 * heads * seq_len / hidden)
    return int(layers * per_layer * dtype.itemsize / 2)


def estimate_lora_memory(model_or_id, config, dtype=None, optimizer: str = "adamw", *,
                         batch_size: int | None = None, seq_len: int | None = None,
                         adapter_dtype=None, model_config=None, allow_guess: bool = False) -> MemoryEstimate:
    """Estimate the memory of training ``config`` on ``model_or_id``, without applying it.

    ``model_or_id`` is a model or a name, built at full size on the ``meta`` device (so a 70B
    model costs nothing) from ``model_config`` (a config.json path, its dict or a transformers
    config) or from what the knowledge base resolves; a name known only by a guess is refused
    (``UnresolvedModelError``) unless ``allow_guess=True``. ``dtype`` is the base weights' dtype (default:
    as built). LoRA weights are float32 over a 16-bit base, as peft's ``autocast_adapter_dtype``
    keeps them, unless ``adapter_dtype`` says otherwise. ``optimizer`` is ``adamw``, ``adam`` or
    ``sgd``. Activations are included only with ``batch_size`` and ``seq_len``.

    Example: compare ``estimate_lora_memory("meta-llama/Llama-2-7b-hf", {"r": 16, ...},
    dtype="bfloat16", batch_size=4, seq_len=2048)`` with ``r=8`` and look at which term moves.
    """
    require_models()
    import torch

    from pytest_lora.targeting import original_modules, unwrap
    from pytest_lora.trainable import plan_trainable

    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZER_STATES)}")
    if (batch_size is None) != (seq_len is None):
        raise ValueError("activations need both batch_size and seq_len (or neither)")
    for label, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ValueError(f"{label} should be a positive integer, not {value!r}")
    dtype = torch_dtype(dtype)
    if isinstance(model_or_id, (str, os.PathLike)):
        from pytest_lora.skeletons import build_resolved, resolve_for_build

        resolution = resolve_for_build(model_or_id, model_config, allow_guess=allow_guess, keyword="model_config")
        model_or_id = build_resolved(resolution, dtype=dtype)
    elif model_config is not None:
        raise TypeError("model_config= is for a model given by name; this model is already built")
    base, _ = unwrap(model_or_id)
    # each tensor once (tied weights), the adapters under peft's wrappers left out
    params = list({id(p): p for _, module in original_modules(base) for p in module.parameters(recurse=False)}.values())
    base_bytes = sum(p.numel() * (dtype or p.dtype).itemsize for p in params)

    plan = plan_trainable(model_or_id, config)
    upcast = torch_dtype(adapter_dtype)

    def tensor_dtype(tensor):
        own = dtype or tensor.dtype
        if not tensor.lora:
            return own
        if upcast is not None:
            return upcast
        return torch.float32 if own in (torch.float16, torch.bfloat16) else own

    sizes = [(tensor, tensor.numel * tensor_dtype(tensor).itemsize) for tensor in plan]
    trainable_bytes = sum(size for _, size in sizes)
    activations = None
    if batch_size is not None and seq_len is not None:
        activations = _activation_bytes(base, batch_size, seq_len, dtype or params[0].dtype)
    new_numel = sum(tensor.numel for tensor in plan if tensor.new)
    return MemoryEstimate(
        base_weights=base_bytes,
        adapter_weights=sum(size for tensor, size in sizes if tensor.new),
        gradients=trainable_bytes,
        optimizer_states=OPTIMIZER_STATES[optimizer] * trainable_bytes + _STEP_BYTES[optimizer] * len(plan),
        activations=activations,
        total_params=sum(p.numel() for p in params) + new_numel,
        trainable_params=sum(tensor.numel for tensor in plan),
    )
