"""LORA009 adapter-loaded-frozen: an adapter loaded without ``is_trainable=True`` and then trained."""
from __future__ import annotations

from typing import Any, Iterator

from ..analysis.lifecycle import AUTO_PEFT_LOAD, GET_PEFT, MERGE, MISSING, PEFT_LOAD, History, Step
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, line_of, one_node, sets_trainable, where

_TRAINER = ("from peft import PeftModel\n"
            "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n"
            "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
            "model = PeftModel.from_pretrained(base, 'out/checkpoint-500'{extra})\n"
            "trainer = Trainer(model=model, args=TrainingArguments(output_dir='out'), train_dataset=data)\n"
            "trainer.train()\n")
_LOOP = ("import torch\nfrom peft import AutoPeftModelForCausalLM\n\n"
         "model = AutoPeftModelForCausalLM.from_pretrained('out/adapter'{extra})\n"
         "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)\n"
         "for batch in loader:\n    loss = model(**batch).loss\n    loss.backward()\n"
         "    optimizer.step()\n    optimizer.zero_grad()\n")


def _trainer(extra: str = "") -> str:
    return _TRAINER.format(extra=extra)


def _loop(extra: str = "") -> str:
    return _LOOP.format(extra=extra)


class AdapterLoadedFrozen(Rule):
    """An adapter loaded for inference (frozen) and then trained.

    What: ``PeftModel.from_pretrained(base, path)`` or ``AutoPeftModel*.from_pretrained(path)``
    without ``is_trainable=True`` (omitted or ``False``), whose result reaches, on every path and with
    no other adapter created or loaded in between, a transformers/TRL trainer whose ``.train()`` is
    called, or an optimizer over its ``.parameters()`` in a file that calls ``.backward()``. Not
    judged: a load inside a branch the training does not follow on every path, an ``is_trainable``
    that is not static or a ``**kwargs`` splat, a trainer given ``peft_config`` (LORA015), and files
    that change ``requires_grad``, call ``set_adapter``/``load_adapter``/``load_state_dict`` or similar
    by hand.
    Why: ``from_pretrained`` loads an adapter in inference mode unless ``is_trainable=True``: every
    parameter is frozen, so the run has 0 trainable parameters. A Trainer then runs to the end with
    a flat loss and saves the adapter unchanged; a hand-written loop fails at ``backward()``
    ("element 0 of tensors does not require grad") (huggingface/peft#282, tloen/alpaca-lora#352,
    axolotl-ai-cloud/axolotl#159, ymcui/Chinese-LLaMA-Alpaca-2#577, mosaicml/llm-foundry#1701,
    huggingface/transformers#24463). Every peft release behaves so.
    Example: ``PeftModel.from_pretrained(base, "out/checkpoint-500")`` then ``Trainer(model=model,
    ...).train()`` -> ``PeftModel.from_pretrained(base, "out/checkpoint-500", is_trainable=True)``.
    Fix safety: no fix: whether the adapter is meant to be trained is the author's call.
    """

    CODE = "LORA009"
    NAME = "adapter-loaded-frozen"
    SEVERITY = "warning"
    SUMMARY = "An adapter loaded without is_trainable=True (frozen) and then trained"
    PER_FILE = True
    TRIGGERS = ("PeftModel", "AutoPeftModel", "AutoPeftModelForCausalLM", "AutoPeftModelForSeq2SeqLM",
                "AutoPeftModelForSequenceClassification", "AutoPeftModelForTokenClassification",
                "AutoPeftModelForQuestionAnswering", "AutoPeftModelForFeatureExtraction")

    VALID = [
        Valid(_trainer(", is_trainable=True")),
        Valid(_loop(", is_trainable=True")),
        # loaded for inference only
        Valid("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\n"
              "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
              "model = PeftModel.from_pretrained(base, 'out/adapter')\n"
              "print(model.generate(**inputs))\n"),
        # a trainer made but never trained (evaluation only)
        Valid(_trainer().replace("trainer.train()", "trainer.evaluate()")),
        # the load happens on one branch only: the flag the branch depends on may also skip training
        Valid("from peft import PeftModel, get_peft_model, LoraConfig\n"
              "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n"
              "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
              "if args.resume:\n    model = PeftModel.from_pretrained(base, args.resume)\n"
              "else:\n    model = get_peft_model(base, LoraConfig(task_type='CAUSAL_LM'))\n"
              "trainer = Trainer(model=model, args=TrainingArguments(output_dir='out'))\n"
              "trainer.train()\n"),
        # trainable made so by hand, or a flag not known statically
        Valid(_trainer() + "for name, p in model.named_parameters():\n"
                           "    if 'lora' in name:\n        p.requires_grad = True\n"),
        Valid(_trainer(", is_trainable=args.train")),
        Valid(_trainer(", **load_kwargs")),
        # wrapped again with a fresh adapter: that one trains
        Valid(_trainer().replace("trainer = Trainer(model=model",
                                 "model = get_peft_model(model.merge_and_unload(), config)\n"
                                 "trainer = Trainer(model=model").replace(
            "from peft import PeftModel", "from peft import PeftModel, get_peft_model")),
    ]
    INVALID = [
        Invalid(_trainer(), message="0 trainable parameters", line=5, column=9),
        Invalid(_trainer(", is_trainable=False"), message="is_trainable=False", line=5),
        Invalid(_loop(), message="AutoPeftModelForCausalLM.from_pretrained()", line=4),
        # through a helper function that loads the model
        Invalid("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n"
                "from trl import SFTTrainer, SFTConfig\n\n"
                "def load(path):\n    base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                "    return PeftModel.from_pretrained(base, path)\n\n"
                "def main():\n    model = load('out/adapter')\n"
                "    trainer = SFTTrainer(model=model, args=SFTConfig(output_dir='out'), train_dataset=data)\n"
                "    trainer.train()\n", message="SFTTrainer", line=7),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None or sets_trainable(lc.index):
            return
        reported: set[int] = set()
        for training in lc.trainings():
            if training.kind == "trainer" and training.peft_config_given(lc.index) is not False:
                continue
            histories = lc.histories(training.model, training.model_site)
            steps = certain_in_all(histories, _frozen_load)
            step = one_node(steps) if steps else None
            if step is None or id(step.node) in reported:
                continue
            reported.add(id(step.node))
            flag = step.value("is_trainable")
            how = "with is_trainable=False" if flag is False else "without is_trainable=True"
            used = (f"{training.trainer}(...).train()" if training.kind == "trainer"
                    else "an optimizer over its parameters and .backward()")
            yield Finding(where(step, training.model),
                          f"{line_of(step)} loads the adapter {how}, so it is frozen (inference mode), and "
                          f"the model is then trained by {used}: 0 trainable parameters, the loss stays flat "
                          f"(a hand-written loop fails at backward()); pass is_trainable=True to train it")


def _frozen_load(history: History) -> Step | None:
    """The load of the adapter this value holds when it is loaded frozen, else None."""
    step = history.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE)
    if step is None or step.kind not in (PEFT_LOAD, AUTO_PEFT_LOAD):
        return None
    return step if step.value("is_trainable") in (MISSING, False) else None
