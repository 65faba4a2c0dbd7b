"""assert_trainable_dtypes: every trained tensor is in a dtype the chosen mixed precision can train."""
from __future__ import annotations

from pytest_lora.extras import require_models

# amp mode -> (dtypes a trained tensor may have, why others fail)
_RULES = {
    "fp16": (("float32",), "fp16 mixed precision keeps float32 master weights: its GradScaler refuses "
                           "float16 gradients (\"Attempting to unscale FP16 gradients\")"),
    "bf16": (("float32", "bfloat16", "float64"), "a float16 weight under bf16 autocast has no loss scaling: "
                                                 "its small gradients underflow to zero"),
    None: (("float32", "bfloat16", "float64"), "a float16 weight trained without autocast and a GradScaler "
                                               "loses its small gradients and updates to underflow"),
}
_HINTS = {
    "lora": "peft keeps LoRA weights in float32 unless autocast_adapter_dtype=False or the model was cast "
            "after get_peft_model (model.half())",
    "copy": "a modules_to_save copy keeps its base's dtype: cast it to float32 after get_peft_model "
            "(param.data = param.data.float())",
    "tokens": "trainable token rows keep the embedding's dtype",
    "base": "a base weight made trainable (bias=, requires_grad_) keeps the base's dtype",
}


def assert_trainable_dtypes(peft_model, amp: str | None = None) -> None:
    """Assert every tensor that requires grad can be trained under ``amp``.

    ``amp="fp16"`` (Trainer's ``fp16=True``: autocast and a GradScaler): float32 only.
    ``amp="bf16"`` (``bf16=True``) and ``amp=None`` (no autocast): float32 or bfloat16, never
    float16. On failure each tensor is named with its dtype and where the dtype came from.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    from pytest_lora.trained import short_name, trained_tensors

    if amp not in _RULES:
        raise ValueError(f"amp={amp!r}: expected 'fp16', 'bf16' or None")
    allowed, why = _RULES[amp]
    kinds = {tensor.name: tensor.kind for tensor in trained_tensors(peft_model)}
    wrong: dict[str, list[str]] = {}
    for name, param in peft_model.named_parameters():
        dtype = str(param.dtype).removeprefix("torch.")
        if param.requires_grad and dtype not in allowed:
            kind = kinds.get(short_name(name), "base")
            wrong.setdefault(kind, []).append(f"  {short_name(name)}: {param.dtype}")
    if wrong:
        count = sum(len(lines) for lines in wrong.values())
        lines = [f"{count} trainable tensor(s) cannot train under amp={amp!r} (allowed: "
                 f"{', '.join(allowed)}): {why}"]
        for kind, names in wrong.items():
            lines.append(f"{_HINTS[kind]}:")
            lines += names
        raise AssertionError("\n".join(lines))
