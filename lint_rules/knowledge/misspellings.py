"""Keywords people pass to ``LoraConfig`` by mistake, and what they meant.

Typos are matched against the keywords of every peft release; other APIs' spellings
(axolotl, LLaMA-Factory, Unsloth, AdaLoRA/LoHa/IA3/prompt tuning) come from a table.
Used by LORA003's message and fix, and by the analysis, which reads a misspelt keyword
as the one it unambiguously stands for.
"""
from __future__ import annotations

import difflib

# Keywords people pass by mistake, from other APIs: (LoraConfig keyword or None, hint).
CONFUSIONS: dict[str, tuple[str | None, str]] = {
    "rank": ("r", "the rank is `r`"),
    "lora_rank": ("r", "the rank is `r`"),
    "lora_r": ("r", "`lora_r` is the axolotl/LLaMA-Factory spelling of `r`"),
    "alpha": ("lora_alpha", "`alpha` belongs to LoHa/LoKr configs; LoraConfig calls it `lora_alpha`"),
    "dropout": ("lora_dropout", "LoraConfig calls it `lora_dropout`"),
    "modules": ("target_modules", "LoraConfig calls it `target_modules`"),
    "target_layers": ("target_modules", "LoraConfig calls it `target_modules`"),
    "lora_target": ("target_modules", "`lora_target` is LLaMA-Factory's spelling of `target_modules`"),
    "lora_target_modules": ("target_modules", "`lora_target_modules` is axolotl's spelling of `target_modules`"),
    "lora_fan_in_fan_out": ("fan_in_fan_out", "axolotl's spelling of `fan_in_fan_out`"),
    "task": ("task_type", "LoraConfig calls it `task_type`"),
    "dora": ("use_dora", "DoRA is switched on with `use_dora`"),
    "rslora": ("use_rslora", "rank-stabilised LoRA is switched on with `use_rslora`"),
    "lora_target_linear": (None, "axolotl's `lora_target_linear: true` is `target_modules=\"all-linear\"` "
                                 "(peft >= 0.8.0)"),
    "use_gradient_checkpointing": (None, "an argument of Unsloth's FastLanguageModel.get_peft_model(), "
                                         "not of LoraConfig"),
    "random_state": (None, "an argument of Unsloth's FastLanguageModel.get_peft_model(), not of LoraConfig"),
    "max_seq_length": (None, "a trainer/Unsloth setting, not a LoraConfig argument"),
}
for _name in ("init_r", "target_r", "tinit", "tfinal", "deltaT", "beta1", "beta2", "orth_reg_weight",
              "total_step"):
    CONFUSIONS[_name] = (None, "an AdaLoraConfig argument: use AdaLoraConfig for AdaLoRA")
for _name in ("rank_dropout", "module_dropout", "use_effective_conv2d", "decompose_both", "decompose_factor"):
    CONFUSIONS[_name] = (None, "a LoHa/LoKr argument (LoHaConfig, LoKrConfig), not a LoraConfig one")
CONFUSIONS["feedforward_modules"] = (None, "an IA3Config argument, not a LoraConfig one")
for _name in ("num_virtual_tokens", "prompt_tuning_init", "prefix_projection", "encoder_hidden_size"):
    CONFUSIONS[_name] = (None, "a prompt/prefix-tuning argument, not a LoraConfig one")


def candidates(name: str, fields: set[str]) -> tuple[list[str], str | None]:
    """The keywords ``name`` may have meant, and a hint about where it comes from."""
    if name in CONFUSIONS:
        meant, hint = CONFUSIONS[name]
        return ([meant] if meant in fields else []), hint
    return difflib.get_close_matches(name, sorted(fields), n=3, cutoff=0.8), None
