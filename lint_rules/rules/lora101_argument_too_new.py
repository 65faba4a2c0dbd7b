"""LORA101 argument-too-new: a keyword the lowest allowed peft release does not have yet."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..knowledge import peft_releases
from ..rule import NOT_SAVED_CONFIGS, Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, keyword_node, lowest, needs_newer, newer


class ArgumentTooNew(Rule):
    """A ``LoraConfig`` keyword newer than the oldest peft the project allows.

    What: the keyword first appeared in a peft release above the lowest release allowed by
    the project's peft requirement (``target-peft-version``, pyproject.toml,
    requirements, PEP 723 metadata, else the installed peft); in an axolotl or LLaMA-Factory
    YAML, the peft the declared framework release requires (within that requirement).
    Why: with that older peft, ``LoraConfig(...)`` raises ``TypeError: unexpected keyword
    argument`` (peft >= 0.14 also drops such keys from a saved adapter_config.json with
    only a warning, so a DoRA adapter loads as plain LoRA).
    Example: ``LoraConfig(use_dora=True)`` with ``peft>=0.8`` (``use_dora`` needs 0.9.0).
    Fix safety: no fix: raise the lower bound of the requirement, or guard the keyword
    with a runtime version check (guarded uses are not reported).
    """

    CODE = "LORA101"
    NAME = "argument-too-new"
    SEVERITY = "error"
    SUMMARY = "A LoraConfig keyword newer than the lowest peft version the project allows"
    TRIGGERS = ("LoraConfig",)
    SOURCES = NOT_SAVED_CONFIGS  # in a saved adapter_config.json: LORA104

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, use_dora=True)\n",
              **{"target-peft-version": ">=0.9"}),
        Valid("import peft\nfrom packaging import version\n\n"
              "if version.parse(peft.__version__) >= version.parse('0.9.0'):\n"
              "    config = peft.LoraConfig(r=8, use_dora=True)\n",
              **{"target-peft-version": ">=0.7"}),
        Valid("import peft\nfrom peft import LoraConfig\n\n"
              "LoraConfig(r=8, **({'use_dora': True} if peft.__version__ >= '0.9' else {}))\n",
              **{"target-peft-version": ">=0.7"}),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, use_dora=True)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(**options)\n", **{"target-peft-version": ">=0.3"}),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, use_dora=True)\n",
                message="`use_dora` needs peft >= 0.9.0", line=3, column=17,
                **{"target-peft-version": ">=0.8"}),
        Invalid("from peft.tuners.lora import LoraConfig as LC\n\n"
                "cfg = LC(\n    r=8,\n    use_rslora=True,\n)\n",
                message="needs peft >= 0.8.0", line=5, column=5,
                **{"target-peft-version": "==0.7.1"}),
        Invalid("from peft import *\n\nOPTIONS = {'r': 16, 'layer_replication': [(0, 4)]}\nLoraConfig(**OPTIONS)\n",
                message="`layer_replication`", line=4, column=12,
                **{"target-peft-version": ">=0.9,<0.12"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        oldest = lowest(ctx)
        for keyword in call.keywords.values():
            span = peft_releases.field_span(keyword.name)
            if span is None or not newer(span[0], oldest) or call.is_guarded(keyword.name):
                continue
            yield Finding(keyword_node(keyword), (
                f"`{keyword.name}` needs peft >= {span[0]}, but the project allows {allowed(ctx)}, "
                f"and LoraConfig() in peft {oldest} raises TypeError on it; {needs_newer(ctx, span[0])}"))
