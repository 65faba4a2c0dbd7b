"""LORA103 argument-removed: a keyword that later peft releases no longer accept."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from ..analysis import LoraCall
from ..knowledge import peft_releases
from ..rule import NOT_SAVED_CONFIGS, Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, highest, keyword_node, newer, remove_element

_REPLACED_BY = {"merge_weights": "; call merge_and_unload() on the PeftModel to merge instead"}


class ArgumentRemoved(Rule):
    """A ``LoraConfig`` keyword removed from peft while the project allows releases after it.

    What: ``merge_weights`` and ``enable_lora`` (gone in 0.3.0), and any keyword whose last
    release is below the newest release the project's peft requirement allows.
    Why: with a newer peft, ``LoraConfig(...)`` raises ``TypeError: unexpected keyword
    argument``.
    Example: ``LoraConfig(r=8, merge_weights=True)`` with an unpinned peft.
    Fix safety: safe: the keyword is removed (with its comma). The removed behaviour is not
    replaced; ``merge_and_unload()`` merges adapters explicitly.
    """

    CODE = "LORA103"
    NAME = "argument-removed"
    SEVERITY = "error"
    SUMMARY = "A keyword removed from peft while the allowed range includes later releases"
    TRIGGERS = ("LoraConfig",)
    SOURCES = NOT_SAVED_CONFIGS  # in a saved adapter_config.json: LORA104
    FIX = "safe"

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, merge_weights=True)\n",
              **{"target-peft-version": "<0.3"}),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16)\n"),
        Valid("import peft\n\nif peft.__version__ < '0.3':\n    peft.LoraConfig(r=8, merge_weights=True)\n"),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, merge_weights=True)\n",
                message="removed in peft 0.3.0", line=3, column=17,
                fixed="from peft import LoraConfig\n\nLoraConfig(r=8)\n"),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=8,\n    enable_lora=[True, False, True],\n"
                "    lora_alpha=16,\n)\n", message="`enable_lora`", line=5, column=5,
                fixed="from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=8,\n    lora_alpha=16,\n)\n",
                **{"target-peft-version": ">=0.2"}),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=8,\n    merge_weights=False,\n)\n",
                message="merge_and_unload()", line=5, column=5,
                fixed="from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=8,\n)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(**{'r': 8, 'merge_weights': True})\n",
                message="`merge_weights`", line=3, column=23,
                fixed="from peft import LoraConfig\n\nLoraConfig(**{'r': 8})\n"),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        newest = highest(ctx)
        for keyword in call.keywords.values():
            span = peft_releases.field_span(keyword.name)
            if span is None or not newer(newest, span[1]) or call.is_guarded(keyword.name):
                continue
            releases = peft_releases.versions()
            removed_in = releases[releases.index(span[1]) + 1]
            advice = "remove it" + _REPLACED_BY.get(keyword.name, "")
            replacements = {}
            if isinstance(keyword.arg, cst.Arg) and keyword.arg in call.node.args:
                replacements = remove_element(call.node, keyword.arg)
            elif isinstance(keyword.arg, cst.DictElement):
                owner = _dict_of(call.node, keyword.arg)
                if owner is not None:
                    replacements = remove_element(owner, keyword.arg)
            yield Finding(keyword_node(keyword), (
                f"`{keyword.name}` was removed in peft {removed_in}, and the project allows "
                f"{allowed(ctx)}, which includes {newest}, where LoraConfig() raises TypeError on it; "
                f"{advice}"), replacements, f"Remove `{keyword.name}`" if replacements else None)


def _dict_of(call: cst.Call, element: cst.DictElement) -> cst.Dict | None:
    for arg in call.args:
        if isinstance(arg.value, cst.Dict) and element in arg.value.elements:
            return arg.value
    return None
