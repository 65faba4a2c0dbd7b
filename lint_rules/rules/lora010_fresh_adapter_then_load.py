"""LORA010 fresh-adapter-then-load: a trained adapter loaded into a model ``get_peft_model`` already
wrapped, or a fresh adapter made from a trained adapter's config and used for inference."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis.index import CallSite
from ..analysis.lifecycle import AUTO_PEFT_LOAD, GET_PEFT, MERGE, PEFT_LOAD, History, Lifecycle, Step, classify
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, one_node, sets_trainable

_WRAPPED = ("from peft import LoraConfig, PeftModel, get_peft_model\n"
            "from transformers import AutoModelForCausalLM\n\n"
            "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
            "model = get_peft_model(base, LoraConfig(task_type='CAUSAL_LM'))\n"
            "model = PeftModel.from_pretrained(model, 'out/adapter')\n"
            "print(model.generate(**inputs))\n")
_FROM_CONFIG = ("from peft import PeftConfig, get_peft_model\n"
                "from transformers import AutoModelForCausalLM\n\n"
                "config = PeftConfig.from_pretrained('out/adapter')\n"
                "base = AutoModelForCausalLM.from_pretrained(config.base_model_name_or_path)\n"
                "model = get_peft_model(base, config)\n"
                "print(model.generate(**inputs))\n")


class FreshAdapterThenLoad(Rule):
    """A new, untrained adapter where a trained one was meant to be used.

    What: (1) ``PeftModel.from_pretrained(model, path)`` where ``model`` is, on every path, the result
    of ``get_peft_model`` (not merged); (2) ``get_peft_model(base, config)`` where ``config`` is, on
    every path, read by ``PeftConfig.from_pretrained``/``LoraConfig.from_pretrained``, and the result
    is used for inference (``.generate()``) and never trained, with no weights loaded into it by hand
    (``load_state_dict``, ``set_peft_model_state_dict``, ``load_adapter``...).
    Why: ``get_peft_model`` creates a new adapter whose ``lora_B`` is zero: its outputs equal the base
    model's. Loading a trained adapter on top of it wraps the PeftModel again, and peft reports the
    adapter's keys as missing (huggingface/peft#2115, which led to that warning in
    huggingface/peft#2118; huggingface/peft#1678, #515; huggingface/lerobot#3459). A config read from
    a trained adapter holds its settings, never its weights: ``get_peft_model`` with it is an untrained
    adapter again (PEFT's troubleshooting page: "A common error is trying to load a trained model with
    get_peft_model"). Every peft release behaves so.
    Example: ``model = get_peft_model(base, config); model = PeftModel.from_pretrained(model, path)``
    -> ``model = PeftModel.from_pretrained(base, path)``.
    Fix safety: no fix: which model to load into is the author's call.
    """

    CODE = "LORA010"
    NAME = "fresh-adapter-then-load"
    SEVERITY = "error"
    SUMMARY = "A trained adapter loaded into a model get_peft_model wrapped, or a fresh adapter used for inference"
    PER_FILE = True
    TRIGGERS = ("get_peft_model",)

    VALID = [
        Valid(_WRAPPED.replace("model = get_peft_model(base, LoraConfig(task_type='CAUSAL_LM'))\n", "")
              .replace("from_pretrained(model,", "from_pretrained(base,")),
        # merged first: the adapter is gone, a new one is loaded onto the merged model
        Valid(_WRAPPED.replace("PeftModel.from_pretrained(model,", "PeftModel.from_pretrained(model.merge_and_unload(),")),
        # only on one path
        Valid(_WRAPPED.replace("model = get_peft_model(base,", "if args.new:\n    model = get_peft_model(base,")
              .replace("model = PeftModel.from_pretrained(model", "else:\n    model = base\n"
                       "model = PeftModel.from_pretrained(model")),
        # the config read from a trained adapter, used to train a new one
        Valid(_FROM_CONFIG.replace("print(model.generate(**inputs))\n",
                                   "Trainer(model=model, args=TrainingArguments('out')).train()\n")
              .replace("import AutoModelForCausalLM", "import AutoModelForCausalLM, Trainer, TrainingArguments")),
        # the trained weights are loaded into the fresh adapter by hand
        Valid(_FROM_CONFIG.replace("print(", "set_peft_model_state_dict(model, load_file('out/adapter/"
                                   "adapter_model.safetensors'))\nprint(")),
        # a config made here: a new adapter meant as such
        Valid(_FROM_CONFIG.replace("PeftConfig.from_pretrained('out/adapter')", "LoraConfig(r=8)")
              .replace("config.base_model_name_or_path", "'gpt2'")),
    ]
    INVALID = [
        Invalid(_WRAPPED, message="already wrapped", line=6, column=9),
        Invalid(_FROM_CONFIG, message="untrained", line=6, column=9),
        # through a helper
        Invalid("from peft import LoraConfig, PeftModel, get_peft_model\n"
                "from transformers import AutoModelForCausalLM\n\n"
                "def build():\n    base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                "    return get_peft_model(base, LoraConfig(task_type='CAUSAL_LM'))\n\n"
                "model = PeftModel.from_pretrained(build(), 'out/adapter', is_trainable=True)\n",
                message="get_peft_model()", line=8),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None:
            return
        for site in lc.index.calls_by_name.get("from_pretrained", ()):
            kind, subject = classify(lc.index, site.node, site.scope)
            if kind != PEFT_LOAD or subject is None:
                continue
            steps = certain_in_all(lc.histories(subject, site), _wrapped)
            step = one_node(steps) if steps else None
            if step is not None:
                yield Finding(site.node, "the model given to PeftModel.from_pretrained() is already wrapped by "
                                         "get_peft_model(), a new, untrained adapter: the trained adapter is "
                                         "loaded around a PeftModel (peft reports its keys as missing) and the "
                                         "outputs stay those of the untrained one; pass the base model instead")
        if sets_trainable(lc.index):
            return
        for site in lc.index.calls_by_name.get("get_peft_model", ()):
            finding = self._from_config(lc, site)
            if finding is not None:
                yield finding

    def _from_config(self, lc: Lifecycle, site: CallSite) -> Finding | None:
        kind, _ = classify(lc.index, site.node, site.scope)
        positional = [a.value for a in site.node.args if a.keyword is None and not a.star]
        if kind != GET_PEFT or len(positional) < 2:
            return None
        origins = lc.tracer.origins(positional[1], site)
        if not origins or not all(o.straight and _read_config(o) for o in origins):
            return None
        used = False
        for other in lc.index.calls_by_name.get("generate", ()):
            if isinstance(other.node.func, cst.Attribute):
                histories = lc.histories(other.node.func.value, other)
                steps = certain_in_all(histories, lambda h: h.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE))
                used = used or (steps is not None and all(s.node is site.node for s in steps))
        if not used:
            return None
        for training in lc.trainings():
            if any(any(s.node is site.node for s in h.steps) or not h.known
                   for h in lc.histories(training.model, training.model_site)):
                return None
        return Finding(site.node, "get_peft_model() creates a new, untrained adapter (lora_B is zero) from the "
                                  "config read by from_pretrained(): the trained weights are not loaded, and the "
                                  "model used for generate() below gives the base model's outputs; load the "
                                  "trained adapter with PeftModel.from_pretrained(base, path)")


def _wrapped(history: History) -> Step | None:
    step = history.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE)
    return step if step is not None and step.kind == GET_PEFT else None


def _read_config(origin: Any) -> bool:
    """``PeftConfig.from_pretrained(...)``, ``LoraConfig.from_pretrained(...)`` (peft's)."""
    node = origin.node
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute) \
            or node.func.attr.value != "from_pretrained":
        return False
    owner = origin.index.qualname(node.func.value, origin.at.scope) or ""
    return owner.startswith("peft.") and owner.endswith("Config")

