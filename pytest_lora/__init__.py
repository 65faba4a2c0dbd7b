"""pytest-lora: fixtures and assertions for LoRA configurations, and ``--lora-check``.

Names are loaded lazily so that importing the plugin costs nothing: torch, peft
and transformers are imported only when an assertion or fixture is used.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "expected_trainable_params": "pytest_lora.trainable",
    "assert_trainable_params": "pytest_lora.trainable",
    "assert_base_frozen": "pytest_lora.trainable",
    "trainable_params": "pytest_lora.trainable",
    "assert_device_placement": "pytest_lora.placement",
    "assert_lora_grads_flow": "pytest_lora.grads",
    "assert_adapter_roundtrip": "pytest_lora.roundtrip",
    "assert_merge_equivalent": "pytest_lora.merging",
    "assert_trainable_dtypes": "pytest_lora.dtypes",
    "assert_targets_cover": "pytest_lora.coverage",
    "assert_head_trainable": "pytest_lora.heads",
    "estimate_lora_memory": "pytest_lora.memory",
    "MemoryEstimate": "pytest_lora.memory",
    "apply_lora": "pytest_lora.apply",
    "build_tiny_model": "pytest_lora.tiny_models",
    "build_skeleton": "pytest_lora.skeletons",
    "available_devices": "pytest_lora.devices",
    "MissingExtraError": "pytest_lora.extras",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_lora' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
