"""The ``models`` extra: torch, transformers and peft, imported only when a fixture needs them."""
from __future__ import annotations

import importlib
import os
from contextlib import contextmanager

MODELS_EXTRA = ("torch", "transformers", "peft")
INSTALL_HINT = "pip install 'pytest-lora[models]'"
_OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class MissingExtraError(ImportError):
    """Raised when a fixture or assertion needs the ``models`` extra and it is not installed."""


def require_models() -> None:
    """Import torch, transformers and peft, or raise a message naming the extra to install."""
    missing = []
    for name in MODELS_EXTRA:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"pytest-lora's model fixtures and assertions need {', '.join(missing)}: {INSTALL_HINT}"
        )


@contextmanager
def offline():
    """Forbid Hugging Face Hub access while models are built (both flags restored afterwards)."""
    previous = {flag: os.environ.get(flag) for flag in _OFFLINE_FLAGS}
    os.environ.update(dict.fromkeys(_OFFLINE_FLAGS, "1"))
    try:
        yield
    finally:
        for flag, value in previous.items():
            if value is None:
                os.environ.pop(flag, None)
            else:
                os.environ[flag] = value


def torch_dtype(value):
    """A ``torch.dtype`` from a dtype or its name (``"bfloat16"``, ``"bf16"``, ``"fp16"``, ``"half"``,
    ``"torch.float32"``); None stays None.

    Anything else is refused with the names accepted.
    """
    import torch

    if value is None or isinstance(value, torch.dtype):
        return value
    aliases = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
    name = value.removeprefix("torch.") if isinstance(value, str) else None
    name = aliases.get(name, name)
    found = getattr(torch, name, None) if name else None
    if not isinstance(found, torch.dtype):
        raise ValueError(f"unknown dtype {value!r}: expected a torch.dtype or a name such as "
                         f"'float32', 'bfloat16', 'float16', 'bf16', 'fp16', 'fp32', 'half'")
    return found
