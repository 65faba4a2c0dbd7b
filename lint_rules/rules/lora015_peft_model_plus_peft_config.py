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

# a QLoRA script: the model loaded at module level, wrapped and trained in main()
_SCRIPT = ("from peft import LoraConfig, get_peft_model\n"
           "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n"
           "from trl import SFTConfig, SFTTrainer\n\n"
           "bnb = BitsAndBytesConfig(load_in_4bit=True)\n"
           "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf', quantization_config=bnb)\n"
           "config = LoraConfig(r=16, lora_alpha=32, task_type='CAUSAL_LM')\n\n\n"
           "def main():\n"
           "    global model\n"
           "    model = get_peft_model(model, config)\n"
           "    trainer = SFTTrainer(model=model, args=SFTConfig(output_dir='out'), train_dataset=data,\n"
           "                         peft_config=config)\n"
           "    trainer.train()\n\n\n"
           "if __name__ == '__main__':\n"
           "    main()\n")
_WRAPPED_AT_TOP = _SCRIPT.replace("    global model\n    model = get_peft_model(model, config)\n", "").replace(
    "config = LoraConfig(r=16, lora_alpha=32, task_type='CAUSAL_LM')\n",
    "config = LoraConfig(r=16, lora_alpha=32, task_type='CAUSAL_LM')\nmodel = get_peft_model(model, config)\n")


class PeftModelPlusPeftConfig(Rule):
    """A TRL trainer given a model that is already a PeftModel together with ``peft_config``.

    What: a TRL trainer (``SFTTrainer``, ``DPOTrainer``, ``GRPOTrainer``, ``RewardTrainer``, ...) whose
    ``model`` is, on every path, the result of ``get_peft_model``/``PeftModel(...)``,
    ``PeftModel.from_pretrained`` or ``AutoPeftModel*.from_pretrained`` (not merged), and whose
    ``peft_config`` is given a value that is not ``None`` on every path.
    Why: the trainer applies ``peft_config`` itself. Given a PeftModel as well, older trl wraps it a
    second time (huggingface/trl#652: "weird output"), or prepares it for k-bit training and freezes
    the adapter (huggingface/trl#3926); the adapter it produces cannot be reloaded, and trl refuses the
    combination since huggingface/trl#4713 (trl 0.27.0: "You passed a `PeftModel` instance together with
    a `peft_config` to the trainer"). With peft 0.21.2, wrapping a PeftModel again nests it
    (``base_model.model.base_model.model...``) and the adapter it saves loads none of its weights into
    the base model: the reloaded model is the base model (both shown with trl 1.16.0 on a tiny Llama in
    tests/test_training_rules_peft.py). Also huggingface/trl#473, #4029, hiyouga/LlamaFactory#3084.
    Example: ``SFTTrainer(model=get_peft_model(model, config), peft_config=config)`` -> pass the base
    model with ``peft_config``, or the PeftModel alone.
    Fix safety: no fix: which of the two to keep is the author's call.
    """

    CODE = "LORA015"
    NAME = "peft-model-plus-peft-config"
    SEVERITY = "error"
    SUMMARY = "A TRL trainer given a PeftModel and a peft_config"
    PER_FILE = True
    KEYWORD_TRIGGERS = ("peft_config",)
    NEEDS_CALLED = ("train",)  # a trainer counts once its .train() is called

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
        # main() runs before the model is wrapped at module level
        Valid(_WRAPPED_AT_TOP.replace("model = get_peft_model(model, config)\n", "").replace(
            "    main()\n", "    main()\n    model = get_peft_model(model, config)\n")),
        # another function rebinds the global name before the trainer runs: not the same model on every path
        Valid(_WRAPPED_AT_TOP.replace("def main():\n", "def reload():\n    global model\n"
                                      "    model = AutoModelForCausalLM.from_pretrained('gpt2')\n\n\n"
                                      "def main():\n    if args.fresh:\n        reload()\n")),
        # main() also runs elsewhere (a callback): when is not known
        Valid(_SCRIPT.replace("    main()\n", "    main()\n    atexit.register(main)\n")),
        # a parameter of the same name shadows the module's model
        Valid(_WRAPPED_AT_TOP.replace("def main():", "def main(model):").replace("    main()", "    main(base)")),
    ]
    INVALID = [
        Invalid(_SEED, message="already a PeftModel", line=9, column=34),
        # module-level bindings followed into main(): as the script runs them
        Invalid(_SCRIPT, message="already a PeftModel", line=14, column=38),
        Invalid(_WRAPPED_AT_TOP, message="already a PeftModel", line=13),
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
