"""LORA016 kbit-prep-misuse: ``prepare_model_for_kbit_training`` on a 16-bit model that is not
quantized, or after ``get_peft_model``."""
from __future__ import annotations

from typing import Any, Iterator

from ..analysis.lifecycle import AUTO_PEFT_LOAD, GET_PEFT, MERGE, PEFT_LOAD, History, Lifecycle, Step, classify, KBIT_PREP
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, one_node

_SEED = ("import torch\nfrom peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training\n"
         "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n\n"
         "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf', {load})\n"
         "{first}\n{second}\n")
_PREP = "model = prepare_model_for_kbit_training(model)"
_WRAP = "model = get_peft_model(model, LoraConfig(r=8, task_type='CAUSAL_LM'))"
_4BIT = "quantization_config=BitsAndBytesConfig(load_in_4bit=True)"
_16BIT = "torch_dtype=torch.bfloat16"


def _seed(load: str = _4BIT, first: str = _PREP, second: str = _WRAP) -> str:
    return _SEED.format(load=load, first=first, second=second)


class KbitPrepMisuse(Rule):
    """``prepare_model_for_kbit_training`` where it does harm.

    What: ``prepare_model_for_kbit_training(model)`` where, on every path, (1) ``model`` was loaded in
    16 bit (``torch_dtype``/``dtype`` ``float16``/``bfloat16``) without 4/8-bit quantization
    (no ``load_in_4bit``/``load_in_8bit``, no ``quantization_config``), or (2) ``model`` is already a
    trainable PeftModel (``get_peft_model``, ``PeftModel.from_pretrained(..., is_trainable=True)``).
    A load with a ``**kwargs`` splat, a quantization chosen at run time, a checkpoint that is not
    known (the model id must resolve, as for LORA001, and name no quantized variant such as
    ``-GPTQ`` or ``-bnb-4bit``: such checkpoints are stored quantized) or a step on one path only is
    not judged.
    Why: the function freezes every parameter and casts every 16-bit parameter that is not
    quantized to float32; it is meant for 4/8-bit models. On a 16-bit model that doubles the memory
    of the whole model (an OOM on the first step, huggingface/peft#1149, maintainer: only meant for
    quantized models; huggingface/trl#4335, bitsandbytes-foundation/bitsandbytes#1569). After
    ``get_peft_model`` it freezes the adapter that was just created: 0 trainable parameters
    (huggingface/trl#3926, huggingface/peft#816). Every peft release with the function does so.
    Example: ``prepare_model_for_kbit_training(model)`` after ``get_peft_model(model, config)`` -> call it
    before ``get_peft_model``.
    Fix safety: no fix: moving or dropping the call is the author's call.
    """

    CODE = "LORA016"
    NAME = "kbit-prep-misuse"
    SEVERITY = "warning"
    SUMMARY = "prepare_model_for_kbit_training on a 16-bit model that is not quantized, or after get_peft_model"
    PER_FILE = True
    TRIGGERS = ("prepare_model_for_kbit_training", "prepare_model_for_int8_training")

    VALID = [
        Valid(_seed()),
        Valid(_seed("load_in_8bit=True")),
        Valid(_seed(f"{_4BIT}, {_16BIT}")),
        # quantization chosen at run time, or passed through **kwargs
        Valid(_seed(f"quantization_config=bnb if args.q else None, {_16BIT}")),
        Valid(_seed(f"{_16BIT}, **kwargs")),
        # a checkpoint stored quantized (GPTQ, a bnb-4bit upload), or one this analysis does not know
        Valid(_seed(_16BIT).replace("meta-llama/Llama-2-7b-hf", "TheBloke/Llama-2-7B-GPTQ")),
        Valid(_seed(_16BIT).replace("meta-llama/Llama-2-7b-hf", "unsloth/llama-3-8b-bnb-4bit")),
        Valid(_seed(_16BIT).replace("'meta-llama/Llama-2-7b-hf'", "args.model")),
        # float32 weights: nothing is cast
        Valid(_seed("torch_dtype=torch.float32")),
        # wrapped on one path only
        Valid(_seed(_4BIT, "if args.lora:\n    " + _WRAP, _PREP)),
    ]
    INVALID = [
        Invalid(_seed(_16BIT), message="not quantized", line=6, column=9),
        Invalid(_seed(_4BIT, _WRAP, _PREP), message="adapter just created is frozen", line=7, column=9),
        Invalid(_seed("torch_dtype='float16'"), message="float16", line=6),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None:
            return
        for name in ("prepare_model_for_kbit_training", "prepare_model_for_int8_training"):
            for site in lc.index.calls_by_name.get(name, ()):
                kind, subject = classify(lc.index, site.node, site.scope)
                if kind != KBIT_PREP or subject is None:
                    continue
                histories = lc.histories(subject, site)
                wrapped = certain_in_all(histories, _trainable_peft)
                if wrapped is not None:
                    yield Finding(site.node, f"{name}() freezes every parameter, and the model is already a "
                                             f"PeftModel here: the adapter just created is frozen too (0 trainable "
                                             f"parameters); call it before get_peft_model()")
                    continue
                loads = certain_in_all(histories, lambda h: _sixteen_bit(lc, h))
                load = one_node(loads) if loads else None
                if load is not None:
                    dtype = lc.dtype(load)
                    yield Finding(site.node, f"{name}() is meant for 4/8-bit models: this model is loaded in "
                                             f"{dtype} and not quantized, so it casts every weight to float32 "
                                             f"(twice the memory of the whole model) and freezes them; for 16-bit "
                                             f"LoRA call get_peft_model() directly (and "
                                             f"model.gradient_checkpointing_enable() if wanted)")


def _trainable_peft(history: History) -> Step | None:
    step = history.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE)
    if step is None or step.kind == MERGE:
        return None
    if step.kind != GET_PEFT and step.value("is_trainable") is not True:
        return None  # loaded frozen: nothing to freeze
    return step


def _sixteen_bit(lc: Lifecycle, history: History) -> Step | None:
    creation = history.creation
    if creation is None or history.of(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE, "cast"):
        return None
    if lc.quantized(creation) != "none" or lc.dtype(creation) not in ("float16", "bfloat16"):
        return None
    return creation
