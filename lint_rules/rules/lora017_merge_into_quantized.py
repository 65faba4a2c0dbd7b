"""LORA017 merge-into-quantized: ``merge_and_unload()``/``merge_adapter()`` on a 4/8-bit base."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis.lifecycle import History, Lifecycle, Step
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, one_node

_SEED = ("import torch\nfrom peft import PeftModel\n"
         "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n\n"
         "bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)\n"
         "base = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf', {load})\n"
         "model = PeftModel.from_pretrained(base, 'out/adapter')\n"
         "merged = model.merge_and_unload()\n"
         "merged.save_pretrained('out/merged')\n")


def _seed(load: str = "quantization_config=bnb") -> str:
    return _SEED.format(load=load)


class MergeIntoQuantized(Rule):
    """Merging a LoRA adapter into a base loaded in 4 or 8 bit.

    What: ``merge_and_unload()`` or ``merge_adapter()`` on a model whose base was loaded, on every
    path, with bitsandbytes 4/8-bit quantization (``load_in_4bit=True``/``load_in_8bit=True``, or a
    ``BitsAndBytesConfig`` asking for it). A quantization chosen at run time or a ``**kwargs`` splat
    is not judged.
    Why: the merged weight is dequantized, added to the LoRA update and quantized again: the update,
    small next to the weight, is largely rounded away, and the merged model's generations drift from
    the adapter's (huggingface/peft#1043 "Merge and unload changes inference a lot on quantized
    llama 2", huggingface/peft#2321, artidoro/qlora#28, #29). Old peft refuses ("Cannot merge LORA
    layers when the model is loaded in 8-bit mode", huggingface/peft#851, #822); newer peft merges
    with a rounding warning. axolotl refuses the combination ("Can't merge qlora if loaded in 4bit").
    Measured with bitsandbytes 0.50.2 on the CPU (tests/test_training_rules_peft.py): an update a
    thousandth of the weight's norm leaves 99.7% of an NF4 weight's 4-bit codes as they were, and after
    peft's ``merge_and_unload()`` the layer's output is further from the adapter's than the adapter's
    whole effect (1.4 times it: re-quantizing moves every block's scale).
    Example: a base loaded with ``BitsAndBytesConfig(load_in_4bit=True)``, then
    ``merge_and_unload()`` -> load the base in 16 bit to merge, and quantize the merged model.
    Fix safety: no fix: the load for merging is a separate step the author writes.
    """

    CODE = "LORA017"
    NAME = "merge-into-quantized"
    SEVERITY = "warning"
    SUMMARY = "merge_and_unload()/merge_adapter() on a base loaded in 4 or 8 bit"
    PER_FILE = True
    TRIGGERS = ("merge_and_unload", "merge_adapter")

    VALID = [
        Valid(_seed("torch_dtype=torch.bfloat16")),
        Valid(_seed("quantization_config=bnb if args.q else None")),
        Valid(_seed("**load_kwargs")),
        Valid(_seed("load_in_4bit=args.load_in_4bit")),
    ]
    INVALID = [
        Invalid(_seed(), message="4-bit", line=8, column=10),
        Invalid(_seed("load_in_8bit=True"), message="8-bit", line=8),
        Invalid(_seed().replace("merged = model.merge_and_unload()\n", "model.merge_adapter()\n")
                .replace("merged.save", "model.save"), message="merge_adapter()", line=8),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None:
            return
        for name in ("merge_and_unload", "merge_adapter"):
            for site in lc.index.calls_by_name.get(name, ()):
                func = site.node.func
                if not isinstance(func, cst.Attribute):
                    continue
                loads = certain_in_all(lc.histories(func.value, site), lambda h: _quantized(lc, h))
                load = one_node(loads) if loads else None
                if load is None:
                    continue
                bits = lc.quantized(load)
                yield Finding(site.node, f"{name}() merges the adapter into a base loaded in {bits[0]}-bit "
                                         f"(bitsandbytes): the weights are dequantized, updated and quantized "
                                         f"again, so most of the LoRA update is rounded away and the merged model "
                                         f"differs from the adapter's (old peft refuses it); load the base in 16 bit "
                                         f"to merge, then quantize the merged model")


def _quantized(lc: Lifecycle, history: History) -> Step | None:
    creation = history.creation
    if creation is None or not creation.certain or lc.quantized(creation) not in ("4bit", "8bit"):
        return None
    return creation
