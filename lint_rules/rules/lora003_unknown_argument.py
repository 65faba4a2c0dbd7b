"""LORA003 unknown-argument: a keyword no peft release's LoraConfig has ever accepted."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from ..analysis import Keyword, LoraCall
from ..knowledge import peft_releases
from ..knowledge.misspellings import candidates
from ..rule import NOT_SAVED_CONFIGS, Finding, Invalid, Rule, RuleContext, Valid
from ._common import keyword_node

class UnknownArgument(Rule):
    """A keyword that no peft release's ``LoraConfig`` has.

    What: a ``LoraConfig`` keyword unknown to every release in the knowledge base (typos,
    and other APIs' names: ``lora_rank``, ``alpha``, ``dropout``, ``lora_target``,
    AdaLoRA/LoHa/IA3 arguments, Unsloth's ``get_peft_model`` arguments).
    Why: ``LoraConfig(...)`` raises ``TypeError: unexpected keyword argument``, often only
    after the model has been loaded on a GPU.
    Example: ``LoraConfig(r=8, nit_lora_weights="gaussian")`` -> ``init_lora_weights``.
    Fix safety: safe rename when exactly one keyword fits and the call does not already
    pass it; otherwise no fix.
    """

    CODE = "LORA003"
    NAME = "unknown-argument"
    SEVERITY = "error"
    SUMMARY = "A keyword that no peft release's LoraConfig accepts"
    TRIGGERS = ("LoraConfig",)
    SOURCES = NOT_SAVED_CONFIGS  # in a saved adapter_config.json: LORA104
    FIX = "safe"

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, init_lora_weights='gaussian')\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(**kwargs)\n"),
        Valid("from mylib import LoraConfig\n\nLoraConfig(rank=8)\n"),
        Valid("from peft import LoHaConfig\n\nLoHaConfig(r=8, alpha=16, rank_dropout=0.1)\n"),
        Valid("import peft\n\npeft.LoraConfig(r=8, merge_weights=True)  # removed, not unknown: LORA103\n"),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, nit_lora_weights='gaussian')\n",
                message="did you mean `init_lora_weights`", line=3, column=17,
                fixed="from peft import LoraConfig\n\nLoraConfig(r=8, init_lora_weights='gaussian')\n"),
        Invalid("import peft as p\n\nconfig = p.LoraConfig(\n    lora_rank=16,\n    lora_alpha=32,\n)\n",
                message="`lora_rank`", line=4, column=5,
                fixed="import peft as p\n\nconfig = p.LoraConfig(\n    r=16,\n    lora_alpha=32,\n)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(**{'r': 8, 'dropout': 0.1})\n",
                message="`lora_dropout`", line=3, column=23,
                fixed="from peft import LoraConfig\n\nLoraConfig(**{'r': 8, 'lora_dropout': 0.1})\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, alpha=16, lora_alpha=32)\n",
                message="LoHa/LoKr", line=3, column=17),
        Invalid("from peft import LoraConfig\n\nKW = dict(r=8, target_r=4)\nLoraConfig(**KW)\n",
                message="AdaLoraConfig", line=4, column=12),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, use_gradient_checkpointing='unsloth')\n",
                message="Unsloth", line=3, column=17),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        fields = peft_releases.all_field_names()
        for keyword in call.keywords.values():
            if keyword.name not in fields:
                yield self._finding(call, keyword, fields)

    def _finding(self, call: LoraCall, keyword: Keyword, fields: set[str]) -> Finding:
        meant, hint = candidates(keyword.name, fields)
        message = f"LoraConfig has no argument `{keyword.name}` in any peft release; it raises TypeError"
        if hint:
            message += f" ({hint})"
        if meant:
            message += "; did you mean " + " or ".join(f"`{m}`" for m in meant) + "?"
        else:
            message += "; remove it"
        node, new = keyword_node(keyword), None
        given = call.keywords.get(meant[0]) if len(meant) == 1 else None
        if len(meant) == 1 and (given is None or given.arg is keyword.arg) and keyword.arg is not None:
            if isinstance(node, cst.Name):
                new = cst.Name(meant[0])
            elif isinstance(node, cst.SimpleString):
                new = cst.SimpleString(node.quote + meant[0] + node.quote)
        return Finding(node, message,
                       {node: new} if new is not None else {},
                       f"Rename `{keyword.name}` to `{meant[0]}`" if new is not None else None)

