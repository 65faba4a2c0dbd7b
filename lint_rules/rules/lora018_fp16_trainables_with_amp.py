"""LORA018 fp16-trainables-with-amp: a float16 model trained with ``fp16=True`` while trainable weights
stay float16."""
from __future__ import annotations

from typing import Any, Iterator

from ..analysis.lifecycle import CAST, GET_PEFT, KBIT_PREP, MERGE, MISSING, PEFT_LOAD, History, Lifecycle, Step
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import lowest, newer
from ._training import certain_in_all, lifecycle_of, sets_trainable

AUTOCAST_SINCE = "0.12.0"  # get_peft_model(autocast_adapter_dtype=True): adapter weights in float32
_SEED = ("import torch\nfrom peft import LoraConfig, get_peft_model\n"
         "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n"
         "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf', torch_dtype={dtype})\n"
         "model = get_peft_model(model, LoraConfig(r=16, task_type='CAUSAL_LM'{extra}){wrap})\n"
         "args = TrainingArguments(output_dir='out', {amp})\n"
         "Trainer(model=model, args=args, train_dataset=data).train()\n")
_NEW = {"target-peft-version": ">=0.12"}


def _seed(dtype: str = "torch.float16", extra: str = ", modules_to_save=['lm_head']", wrap: str = "",
          amp: str = "fp16=True") -> str:
    return _SEED.format(dtype=dtype, extra=extra, wrap=wrap, amp=amp)


class Fp16TrainablesWithAmp(Rule):
    """Float16 trainable weights under float16 mixed precision.

    What: a model loaded with ``torch_dtype``/``dtype`` ``float16`` (or cast with ``.half()``) from a
    checkpoint known not to be stored quantized (its id resolves, as for LORA001), wrapped
    by ``get_peft_model`` and trained by a transformers/TRL trainer whose ``args`` set ``fp16=True``,
    all on every path, where some trainable weights stay float16: ``modules_to_save`` is not empty
    (its copies keep the base dtype), ``get_peft_model(..., autocast_adapter_dtype=False)``, or the
    lowest peft the project allows is older than 0.12.0 (which added the automatic float32 upcast of
    adapter weights). Not judged: a 4/8-bit model prepared with ``prepare_model_for_kbit_training``
    (which casts to float32), files that cast parameters or change ``requires_grad`` by hand.
    Why: fp16 AMP keeps a float32 master copy only of what it is given; ``GradScaler`` refuses float16
    gradients, so the first optimizer step fails with "ValueError: Attempting to unscale FP16
    gradients." after the model has loaded (huggingface/peft#341, huggingface/transformers#30559,
    mst272/LLM-Dojo#11, oobabooga/textgen#5268, axolotl-ai-cloud/axolotl#473; huggingface/peft#1706:
    "Forgetting this is a common source of errors"). The error has its own entry in PEFT's
    troubleshooting page.
    Not judged either: arguments with a DeepSpeed or FSDP config or another half-precision backend.
    Example: ``torch_dtype=torch.float16``, ``modules_to_save=["lm_head"]``, ``fp16=True`` -> train in
    ``bf16=True``, load in float32, or call ``peft.tuners.tuners_utils.cast_mixed_precision_params(model,
    torch.float16)`` before training.
    Fix safety: no fix: the precision to train in is the author's call.
    """

    CODE = "LORA018"
    NAME = "fp16-trainables-with-amp"
    SEVERITY = "error"
    SUMMARY = "A float16 model trained with fp16=True while trainable weights stay float16"
    PER_FILE = True
    KEYWORD_TRIGGERS = ("fp16",)
    NEEDS_CALLED = ("train",)  # a trainer counts once its .train() is called

    VALID = [
        Valid(_seed(amp="bf16=True"), **_NEW),
        Valid(_seed(dtype="torch.bfloat16"), **_NEW),
        Valid(_seed(dtype="torch.float32"), **_NEW),
        # peft >= 0.12 upcasts the LoRA weights; nothing else trains
        Valid(_seed(extra=""), **_NEW),
        # fp16 chosen at run time, or the dtype
        Valid(_seed(amp="fp16=args.fp16"), **_NEW),
        Valid(_seed(dtype="torch.float16 if args.half else torch.float32"), **_NEW),
        # DeepSpeed keeps its own fp16 master weights
        Valid(_seed(amp="fp16=True, deepspeed='ds_config.json'"), **_NEW),
        # cast by hand before training
        Valid(_seed() + "for p in model.parameters():\n    if p.requires_grad:\n        p.data = p.data.float()\n",
              **_NEW),
    ]
    INVALID = [
        Invalid(_seed(), message="modules_to_save", line=8, column=1, **_NEW),
        Invalid(_seed(extra="", wrap=", autocast_adapter_dtype=False"), message="autocast_adapter_dtype=False",
                line=8, **_NEW),
        Invalid(_seed(extra=""), message="0.12.0", line=8, **{"target-peft-version": ">=0.10,<0.14"}),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None or sets_trainable(lc.index) or _casts_by_hand(lc):
            return
        old_peft = newer(AUTOCAST_SINCE, lowest(ctx))
        for training in lc.trainings():
            if training.kind != "trainer" or not training.args:
                continue
            if not all(_plain_fp16_amp(args) for args in training.args):
                continue
            wraps = certain_in_all(lc.histories(training.model, training.model_site), lambda h: _fp16_wrap(lc, h))
            if wraps is None:
                continue
            reasons = {_reason(lc, step, old_peft, ctx) for step in wraps}
            if None in reasons or len(reasons) != 1:
                continue
            yield Finding(training.site.node,
                          f"this model is loaded in float16 and trained with fp16=True, and {reasons.pop()}: "
                          f"GradScaler refuses float16 gradients, so the first optimizer step fails with "
                          f"\"Attempting to unscale FP16 gradients\"; train with bf16=True, load the model in "
                          f"float32, or cast the trainable weights to float32 "
                          f"(peft.tuners.tuners_utils.cast_mixed_precision_params)")


def _plain_fp16_amp(args: Any) -> bool:
    """``fp16=True`` through torch AMP's GradScaler: no DeepSpeed or FSDP config (which keep their own
    fp16 state), no other half-precision backend."""
    return args is not None and args.value("fp16") is True and all(
        args.value(name) in (MISSING, None, "", False) for name in ("deepspeed", "fsdp", "half_precision_backend"))


def _fp16_wrap(lc: Lifecycle, history: History) -> Step | None:
    """The ``get_peft_model`` step of a history whose weights are float16 when it runs."""
    if history.creation is None or not history.creation.certain or history.of(KBIT_PREP, PEFT_LOAD, MERGE):
        return None
    wrap = history.last(GET_PEFT)
    if wrap is None or lc.quantized(history.creation) != "none":
        return None
    dtype = lc.dtype(history.creation)
    for step in history.steps[:history.position(wrap)]:
        if step.kind == CAST:
            dtype = lc.dtype(step) if step.certain else None
    if dtype != "float16" or history.after(wrap, CAST):
        return None
    return wrap


def _reason(lc: Lifecycle, wrap: Step, old_peft: bool, ctx: RuleContext) -> str | None:
    """Why trainable weights stay float16, for the message; None when that is not certain."""
    if wrap.value("autocast_adapter_dtype") is False:
        return "get_peft_model(..., autocast_adapter_dtype=False) keeps the LoRA weights in float16"
    configs = lc.config_of(wrap)
    saved = set()
    for call in configs:
        if call is None:
            return None
        keyword = call.get("modules_to_save")
        if keyword is not None and isinstance(keyword.value, (list, tuple, set)) and keyword.value:
            saved.add(tuple(keyword.value))
    if len(saved) == 1 and len(configs) == 1:
        names = ", ".join(saved.pop())
        return f"modules_to_save ({names}) trains float16 copies of those modules"
    if old_peft and not saved:
        return (f"peft older than {AUTOCAST_SINCE}, which the project allows (lowest {lowest(ctx)}), keeps the "
                f"LoRA weights in the base model's float16")
    return None


def _casts_by_hand(lc: Lifecycle) -> bool:
    """Whether the file casts parameters itself (``p.data = ...``, ``cast_mixed_precision_params``)."""
    if any(site.write and site.node.attr.value == "data" for site in lc.index.attribute_sites):
        return True
    return bool(lc.index.calls_by_name.get("cast_mixed_precision_params"))
