"""Apply a LoraConfig (or its keyword arguments) to a model and record it for ``--lora-report``."""
from __future__ import annotations

import warnings

from pytest_lora.extras import require_models
from pytest_lora.report import record


def apply_lora(model, config=None, *, adapter_name: str = "default", quiet: bool = True, **kwargs):
    """``get_peft_model(model, LoraConfig(...))``: the PeftModel, recorded for the session report.

    ``config`` is a LoraConfig or a dict of its keyword arguments; extra ``kwargs`` are LoraConfig
    keyword arguments too. The model is modified in place, as peft does. ``quiet`` silences peft's
    warnings (fan_in_fan_out on Conv1D, for instance).
    """
    require_models()
    from peft import LoraConfig, get_peft_model

    if config is None:
        config = LoraConfig(**kwargs)
    elif isinstance(config, dict):
        config = LoraConfig(**{**config, **kwargs})
    elif kwargs:
        raise TypeError("pass either a LoraConfig or keyword arguments, not both")
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    record(peft_model)
    return peft_model
