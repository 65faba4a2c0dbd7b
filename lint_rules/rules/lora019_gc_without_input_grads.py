"""LORA019 gc-without-input-grads: reentrant gradient checkpointing in a hand-written loop where
nothing makes the checkpointed blocks' inputs require grad."""
from __future__ import annotations

from typing import Any, Iterator

from ..analysis.lifecycle import GC_ENABLE, GET_PEFT, KBIT_PREP, MISSING, History, Lifecycle, Step
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, one_node
from ._versions import allows_below

NON_REENTRANT_DEFAULT = "5.0.0"  # transformers 5 checkpoints with use_reentrant=False by default
_SEED = ("import torch\nfrom peft import LoraConfig, get_peft_model\n"
         "from transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained('gpt2'{load})\n"
         "{first}\n{second}\n"
         "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)\n"
         "for batch in loader:\n    model(**batch).loss.backward()\n    optimizer.step()\n")
_GC = "model.gradient_checkpointing_enable()"
_WRAP = "model = get_peft_model(model, LoraConfig(task_type='CAUSAL_LM'))"
_OLD = {"target-transformers-version": ">=4.40,<5"}
_4BIT = ", quantization_config=BitsAndBytesConfig(load_in_4bit=True)"


def _seed(first: str = _WRAP, second: str = _GC, load: str = "") -> str:
    code = _SEED.format(first=first, second=second, load=load)
    return code.replace("import AutoModelForCausalLM", "import AutoModelForCausalLM, BitsAndBytesConfig") if load else code


class GcWithoutInputGrads(Rule):
    """Gradient checkpointing that stops LoRA's gradients in a hand-written training loop.

    What: a model trained in a hand-written loop (an optimizer over its ``.parameters()``, and
    ``.backward()`` in the file) with ``gradient_checkpointing_enable()`` called on it on every path,
    where nothing makes the inputs of the checkpointed blocks require grad: (1) checkpointing is
    turned on after ``get_peft_model`` (peft enables input gradients only when it is on before), or
    (2) the base is loaded in 4/8 bit and wrapped without ``prepare_model_for_kbit_training`` (peft
    leaves quantized models to that function); with no ``enable_input_require_grads()`` in the file
    and no ``gradient_checkpointing_kwargs={"use_reentrant": False}``, and only where the project
    allows a transformers older than 5 (before 5, ``gradient_checkpointing_enable()`` uses reentrant
    checkpointing by default). Trainer-driven checkpointing is not judged.
    Why: the base weights are frozen, so with reentrant checkpointing no input of a checkpointed block
    requires grad: backward fails ("element 0 of tensors does not require grad"), or, with other
    trainable parameters in the graph, the LoRA weights inside the blocks get no gradient and stay
    untrained (lm-sys/FastChat#581 fixed by #1489, locuslab/open-unlearning#178: every lora_B still
    zero after training, datawhalechina/self-llm#172, #229, oumi-ai/oumi#107, axolotl-ai-cloud/axolotl#312).
    Example: ``model = get_peft_model(model, config); model.gradient_checkpointing_enable()`` -> also
    call ``model.enable_input_require_grads()``, or pass
    ``gradient_checkpointing_kwargs={"use_reentrant": False}``.
    Fix safety: no fix: which of the two is the author's call.
    """

    CODE = "LORA019"
    NAME = "gc-without-input-grads"
    SEVERITY = "warning"
    SUMMARY = "Reentrant gradient checkpointing in a hand-written loop with no input gradients for LoRA"
    PER_FILE = True
    TRIGGERS = ("gradient_checkpointing_enable",)
    NEEDS_CALLED = ("backward",)  # a hand-written loop calls .backward()

    VALID = [
        # checkpointing on before get_peft_model: peft enables input gradients
        Valid(_seed(_GC, _WRAP), **_OLD),
        Valid(_seed(second=_GC + "\nmodel.enable_input_require_grads()"), **_OLD),
        Valid(_seed(second="model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={'use_reentrant': False})"),
              **_OLD),
        # transformers 5 checkpoints without reentrancy by default
        Valid(_seed(), **{"target-transformers-version": ">=5"}),
        # quantized and prepared: prepare_model_for_kbit_training enables input gradients
        Valid(_seed("model = prepare_model_for_kbit_training(model)\n" + _WRAP, load=_4BIT)
              .replace("import LoraConfig", "import LoraConfig, prepare_model_for_kbit_training"), **_OLD),
        # on one path only
        Valid(_seed(second="if args.gc:\n    " + _GC), **_OLD),
        # trained by Trainer: not a hand-written loop
        Valid(_seed().split("optimizer =")[0] + "Trainer(model=model, args=args).train()\n", **_OLD),
    ]
    INVALID = [
        Invalid(_seed(), message="after get_peft_model()", line=7, column=1, **_OLD),
        Invalid(_seed(_GC, _WRAP, load=_4BIT), message="4-bit", line=6, **_OLD),
    ]

    @classmethod
    def reports_under(cls, ctx: RuleContext) -> bool:
        return allows_below(ctx.transformers, NON_REENTRANT_DEFAULT)

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx) if self.reports_under(ctx) else None
        if lc is None:
            return
        if any(lc.index.calls_by_name.get(name) for name in ("enable_input_require_grads", "register_forward_hook",
                                                             "requires_grad_")):
            return
        reported: set[int] = set()
        for training in lc.trainings():
            if training.kind != "loop":
                continue
            histories = lc.histories(training.model, training.model_site)
            found = certain_in_all(histories, lambda h: _broken(lc, h))
            gc = one_node(found) if found else None
            if gc is None or id(gc.node) in reported:
                continue
            why = _why(lc, histories[0], gc)
            reported.add(id(gc.node))
            yield Finding(gc.node, f"gradient_checkpointing_enable() {why}, so with reentrant checkpointing "
                                   f"(transformers < 5's default, which the project allows) no input of a "
                                   f"checkpointed block requires grad in this hand-written loop: backward() fails "
                                   f"or the LoRA weights get no gradient; call model.enable_input_require_grads() "
                                   f"or pass gradient_checkpointing_kwargs={{'use_reentrant': False}}")


def _broken(lc: Lifecycle, history: History) -> Step | None:
    """The ``gradient_checkpointing_enable()`` step that leaves LoRA without gradients, else None."""
    gcs = history.of(GC_ENABLE)
    if not gcs or history.of(KBIT_PREP) or _why(lc, history, gcs[-1]) is None:
        return None
    return gcs[-1]


def _why(lc: Lifecycle, history: History, gc: Step) -> str | None:
    if gc.value("gradient_checkpointing_kwargs") is not MISSING or gc.node.args:
        return None  # use_reentrant may be False
    wrap = history.last(GET_PEFT)
    if wrap is None or not wrap.certain:
        return None
    if history.position(gc) > history.position(wrap):
        return ("is called after get_peft_model(), which enables input gradients only when checkpointing "
                "is already on")
    creation = history.creation
    bits = lc.quantized(creation) if creation is not None and creation.certain else None
    if bits in ("4bit", "8bit"):
        return (f"is on for a {bits[0]}-bit model wrapped without prepare_model_for_kbit_training(), and peft "
                f"leaves input gradients of quantized models to that function")
    return None
