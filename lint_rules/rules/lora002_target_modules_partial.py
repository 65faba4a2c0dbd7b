"""LORA002 target-modules-partial: some ``target_modules`` entries match nothing."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..knowledge.matching import suggest_equivalent
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import value_node, written_element
from ._targets import matches, model_words, outside, targetable


class TargetModulesPartial(Rule):
    """Entries of ``target_modules`` that match no module, next to entries that do.

    What: the model is known and some list entries reach no module while others do (for a
    config that meets several models: entries that none of them has).
    Why: peft raises only when *nothing* matches; other entries are ignored without a
    word, so fewer layers are adapted than the config says (Llama's ``gate_proj`` on a
    model whose MLP has other names, ``q_proj`` next to Phi-3's fused ``qkv_proj``).
    Example: ``["qkv_proj", "q_proj"]`` on Phi-3: ``q_proj`` adapts nothing.
    Fix safety: no fix: whether to drop the entry or name the intended module is a choice.
    """

    CODE = "LORA002"
    NAME = "target-modules-partial"
    SEVERITY = "warning"
    SUMMARY = "Some target_modules entries match no module and are silently ignored"
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)  # a config made in another module, applied here
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj'])\n",
              model="meta-llama/Llama-2-7b-hf"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj', 'v_proj'])\n",
              model="my-org/unknown-model"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn', EXTRA])\n", model="gpt2"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj', 'v_proj'])\n", model="gpt2"),
    ]
    INVALID = [
        # GPT-NeoX's output layer is `lm_head` in transformers 5.x, `embed_out` in 4.x
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=['query_key_value', 'embed_out'])\n",
                message="(checked against transformers 5.24.0, the one the project allows; in transformers 4.57.6 "
                        "they match modules of the model", line=3, column=47,
                model="EleutherAI/pythia-70m", **{"target-transformers-version": ">=5"}),
        # the name is bound twice: each config is checked against the model it is applied to
        Invalid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
                "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
                "config = LoraConfig(target_modules=['q_proj', 'w1'])\n"
                "a = get_peft_model(model, config)\n"
                "config = LoraConfig(target_modules=['q_proj'])\n"
                "b = get_peft_model(model, config)\n",
                message="['w1'] match no module of meta-llama/Llama-2-7b-hf", line=5, column=47),
        Invalid("from peft import LoraConfig\n\n"
                "LoraConfig(r=8, lora_alpha=16, target_modules=['qkv_proj', 'q_proj'])\n",
                message="['q_proj'] match no module of microsoft/Phi-3-mini-4k-instruct", line=3, column=60,
                model="microsoft/Phi-3-mini-4k-instruct"),
        Invalid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
                "base = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
                "config = LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj', 'v_proj', 'w1', 'w2'])\n"
                "model = get_peft_model(base, config)\n",
                message="silently", line=5, column=77),
        Invalid("from peft import LoraConfig\n\nMODULES = ['c_attn', 'q_proj']\n"
                "LoraConfig(r=8, lora_alpha=16, target_modules=MODULES)  # lora-lint: model=gpt2\n",
                message="targetable modules", line=4, column=47),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        found_all = matches(call, ctx)
        # a config shared by several models may name each one's modules: an entry is only
        # reported when it matches nothing in any of them
        missing = [e for e in found_all[0].unmatched if all(e in f.unmatched for f in found_all)] \
            if found_all else []
        for found in found_all:
            if not found.any_match or not missing:
                continue
            unmatched = [e for e in found.unmatched if e in missing]
            used = [e for e in found.result.matched if e not in found.unmatched]
            message = (f"target_modules entries {unmatched!r} match no module of {model_words(call, found.model)}"
                       f"{outside(call, ctx, found, unmatched)}; "
                       f"peft ignores them silently and adapts only {used!r} (targetable modules: "
                       f"{targetable(found.model)})")
            suggestion = suggest_equivalent(unmatched, found.model.architecture)
            if suggestion and not set(suggestion) <= set(used):
                message += f"; the equivalent here is {suggestion!r}"
            else:
                message += "; remove them or name the intended modules"
            yield Finding(written_element(found.keyword, lambda v: v == unmatched[0]) or value_node(found.keyword), message)
            return  # once, against the first model it is applied to
