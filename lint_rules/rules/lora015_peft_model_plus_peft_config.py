"""LORA015 peft-model-plus-peft-config: a TRL trainer given a PeftModel and a ``peft_config``."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of

_SEED = ("from peft import LoraConfig, get_peft_model\n"
         "from transformers import AutoModelForCausalLM\n"
         "from trl import SFTConfig, SFTTrainer\n\n"
         "config = LoraConfig(r=16, lora_alpha=32, task_type='CAUSAL_LM')\n"
         "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = get_peft_model(model, config)\n"
         "trainer = SFTTrainer(model=model, args=SFTConfig(output_dir='out'), train_dataset=data,\n"
         "                     peft_config=config)\n"
         "trainer.train()\n")


class PeftModelPlusPeftConfig(Rule):
    """A TRL trainer given a model that is already a PeftModel together with ``peft_config``.

    What: a TRL trainer (``SFTTrainer``, ``DPOTrainer``, ``GRPOTrainer``, ``RewardTrainer``, ...) whose
    ``model`` is, on every path, the result of ``get_peft_model``/``PeftModel(...)``,
    ``PeftModel.from_pretrained`` or ``AutoPeftModel*.from_pretrained`` (not merged), and whose
    ``peft_config`` is given a value that is not ``None`` on every path.
    Why: the trainer applies ``peft_config`` itself. Given a PeftModel as well, older trl wraps it a
    second time (huggingface/trl#652: "weird output"), or prepares it for k-bit training and freezes
    the adapter (huggingface/trl#3926); the adapter it produces cannot be reloaded, and trl refuses the
    combination since huggingface/trl#4713 (Dec 2025). Also huggingface/trl#473, #4029,
    hiyouga/LlamaFactory#3084.
    Example: ``SFTTrainer(model=get_peft_model(model, config), peft_config=config)`` -> pass the base
    model with ``peft_config``, or the PeftModel alone.
    Fix safety: no fix: which of the two to keep is the author's call.
    """

    CODE = "LORA015"
    NAME = "peft-model-plus-peft-config"
    SEVERITY = "error"
    SUMMARY = "A TRL trainer given a PeftModel and a peft_config"
    PER_FILE = True
    TRIGGERS = ("peft_config",)

    VALID = [
        Valid(_SEED.replace("model = get_peft_model(model, config)\n", "")),
        Valid(_SEED.replace(",\n                     peft_config=config)", ")")),
        Valid(_SEED.replace("peft_config=config)", "peft_config=None)")),
        # wrapped on one path only
        Valid(_SEED.replace("model = get_peft_model(model, config)", "if args.wrap:\n    model = get_peft_model(model, config)")),
        # peft_config only on some paths
        Valid(_SEED.replace("peft_config=config)", "peft_config=config if args.lora else None)")),
        # transformers' Trainer has no peft_config
        Valid(_SEED.replace("from trl import SFTConfig, SFTTrainer", "from transformers import Trainer as SFTTrainer, "
                                                                     "TrainingArguments as SFTConfig")),
    ]
    INVALID = [
        Invalid(_SEED, message="already a PeftModel", line=9, column=34),
        Invalid("from peft import AutoPeftModelForCausalLM, LoraConfig\nfrom trl import DPOTrainer\n\n"
                "model = AutoPeftModelForCausalLM.from_pretrained('out/sft', is_trainable=True)\n"
                "trainer = DPOTrainer(model, ref_model=None, args=args, train_dataset=data,\n"
                "                     peft_config=LoraConfig(r=8))\n"
                "trainer.train()\n", message="DPOTrainer", line=6),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None:
            return
        for training in lc.trainings():
            if training.kind != "trainer" or not training.trl or training.peft_config is None:
                continue
            origins = lc.tracer.origins(training.peft_config, training.site)
            if not origins or not all(o.node is not None and not (
                    isinstance(o.node, cst.Name) and o.node.value == "None") for o in origins):
                continue
            steps = certain_in_all(lc.histories(training.model, training.model_site),
                                   lambda h: h.steps[-1] if h.is_peft() else None)
            if steps is None:
                continue
            yield Finding(training.peft_config,
                          f"the model given to {training.trainer} is already a PeftModel and peft_config is given "
                          f"too: the trainer applies peft_config itself, so older trl wraps the model a second "
                          f"time (or freezes the adapter while preparing it) and saves an adapter that cannot be "
                          f"reloaded, and newer trl refuses it; pass the base model with peft_config, or the "
                          f"PeftModel alone")
