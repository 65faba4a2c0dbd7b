"""The tensors an adapter trains, found by peft's parameter names, and the model's names for them."""
from __future__ import annotations

from dataclasses import dataclass

_PREFIX = "base_model.model."


@dataclass(frozen=True)
class TrainedTensor:
    """One tensor the active adapter trains: ``kind`` is ``lora`` (A/B factors, DoRA magnitudes,
    LoRA biases), ``copy`` (a ``modules_to_save`` copy) or ``tokens`` (trainable token rows)."""

    name: str
    param: object
    kind: str


def short_name(name: str) -> str:
    """A PeftModel parameter or module name without peft's ``base_model.model.`` prefix."""
    return name.removeprefix(_PREFIX)


def active_adapters(peft_model) -> list[str]:
    adapters = getattr(peft_model, "active_adapters", None)
    if adapters is None:
        adapters = peft_model.active_adapter
    return [adapters] if isinstance(adapters, str) else list(adapters)


def _kind(parts: list[str], adapters: set[str]) -> str | None:
    for index, part in enumerate(parts[:-1]):
        following = parts[index + 1]
        if part.startswith("lora_") and following in adapters:
            return "lora"
        if part == "modules_to_save" and following in adapters:
            return "copy"
        if part == "trainable_tokens_delta" and following in adapters:
            return "tokens"
    if len(parts) > 1 and parts[-2] == "trainable_tokens_delta" and parts[-1] in adapters:
        return "tokens"
    return None


def trained_tensors(peft_model) -> list[TrainedTensor]:
    """Every tensor of the active adapter(s), whether or not it requires grad (a frozen load
    has them all frozen), in the model's order."""
    adapters = set(active_adapters(peft_model))
    found = []
    for name, param in peft_model.named_parameters():
        kind = _kind(name.split("."), adapters)
        if kind is not None:
            found.append(TrainedTensor(short_name(name), param, kind))
    return found
