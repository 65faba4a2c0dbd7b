"""The script most rule examples are written in: a model loaded, a LoraConfig applied to it."""
from __future__ import annotations

_APPLIED = ("from peft import LoraConfig, get_peft_model\nfrom transformers import {cls}\n\n"
            "model = {cls}.from_pretrained({model!r}{load})\n"
            "config = LoraConfig(r=8, lora_alpha=16, {keywords})\n"
            "model = get_peft_model(model, config)\n")


def applied(keywords: str, model: str, cls: str = "AutoModelForCausalLM", load: str = "") -> str:
    """``model`` loaded with ``cls.from_pretrained(model<load>)`` and wrapped with
    ``LoraConfig(r=8, lora_alpha=16, <keywords>)``; the config is on line 5."""
    return _APPLIED.format(cls=cls, model=model, load=load, keywords=keywords)
