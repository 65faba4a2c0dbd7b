"""Apply a LoraConfig (or its keyword arguments) to a model and record it for ``--lora-report``."""
from __future__ import annotations

import warnings

from pytest_lora.extras import require_models
from pytest_lora.report import record


def apply_lora(model, config=None, *, adapter_name: str = "default", quiet: bool = True, **kwargs):
    """``get_peft_model(model, LoraConfig(...))``: the PeftModel, recorded for the session report.

    ``config`` is a LoraConfig or a dict of its keyword arguments; extra ``kwargs`` are LoraConfig
    keyword arguments too. The model is modified in place, as peft does. ``quiet`` silences peft's
    warnings (fan_in_fan_out on Conv1D, for instance). When ``target_modules`` matches nothing,
    the error says what the model calls those modules (as lora-lint's LORA001 does) instead of
    peft's traceback.
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
        try:
            peft_model = get_peft_model(model, config, adapter_name=adapter_name)
        except ValueError as error:
            explained = _explained(model, config, error)
            if explained is None:
                raise
            raise explained from None
    record(peft_model)
    return peft_model


def _explained(model, config, error: ValueError) -> ValueError | None:
    """peft's "target modules not found" error as lora-lint words it (what the model calls them),
    with peft's first line; None for any other error."""
    from pytest_lora.explain import explain_no_match
    from pytest_lora.targeting import no_match_error

    kind = no_match_error()
    if kind is ValueError or not isinstance(error, kind) or getattr(config, "target_parameters", None):
        return None
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return kind(f"{explain_no_match(model, config.target_modules)}\npeft: {first_line}")
