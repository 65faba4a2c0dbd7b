"""LORA205 eval-label-names: a transformers Trainer evaluating a plain PeftModel for the best model
without ``label_names``, where the allowed transformers cannot see its ``labels``."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis.lifecycle import (AUTO_PEFT_LOAD, GET_PEFT, MERGE, MISSING, PEFT_LOAD, History, Lifecycle, Step,
                                  Training)
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of
from ._versions import allows_below

SEES_THROUGH_PEFT = "4.55.0"  # Trainer reads label names from the PeftModel's base model since this release
# TRL trainers that keep transformers' label handling (Trainer.__init__'s label_names from find_labels(model),
# Trainer.prediction_step) in every trl release that allows a transformers older than 4.55 (trl 0.7 to 0.20.0;
# 0.21.0 requires 4.55.0): none of those releases sets label_names or overrides prediction_step in them, and
# each wraps the model with get_peft_model(model, peft_config), which gives a plain PeftModel without
# task_type. DPO, CPO, ORPO, KTO, BCO, GRPO and Reward trainers compute the loss in their own
# prediction_step; the online trainers' (OnlineDPO, XPO, NashMD) evaluation data has no labels to begin with.
TRL_LABEL_TRAINERS = frozenset({"SFTTrainer", "GKDTrainer", "PRMTrainer"})
_SEED = ("from peft import LoraConfig, get_peft_model\n"
         "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n"
         "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = get_peft_model(model, LoraConfig(r=8, target_modules=['c_attn']{task}))\n"
         "args = TrainingArguments(output_dir='out', eval_strategy='steps', save_strategy='steps',\n"
         "                         {best})\n"
         "trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=dev)\n"
         "trainer.train()\n")
# a TRL trainer that wraps the model with its peft_config itself
_TRL = ("from peft import LoraConfig\n"
        "from transformers import AutoModelForCausalLM\n"
        "from trl import {trainer}, {config}\n\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
        "args = {config}(output_dir='out', eval_strategy='steps', {best})\n"
        "trainer = {trainer}(model=model, args=args, train_dataset=train, eval_dataset=dev,\n"
        "                     peft_config=LoraConfig(r=8, target_modules=['c_attn']{task}))\n"
        "trainer.train()\n")
_OLD = {"target-transformers-version": ">=4.40,<5"}
_BEST = "load_best_model_at_end=True, metric_for_best_model='eval_loss'"


def _seed(task: str = "", best: str = _BEST) -> str:
    return _SEED.format(task=task, best=best)


def _trl(trainer: str = "SFTTrainer", config: str = "SFTConfig", task: str = "", best: str = _BEST) -> str:
    return _TRL.format(trainer=trainer, config=config, task=task, best=best)


class EvalLabelNames(Rule):
    """No ``eval_loss`` for a plain PeftModel in transformers' Trainer before 4.55.

    What: a transformers ``Trainer`` (or ``Seq2SeqTrainer``), or TRL's ``SFTTrainer``, ``GKDTrainer`` or
    ``PRMTrainer``, whose ``.train()`` is called on a model that is, on every path, a plain
    ``PeftModel``: ``get_peft_model`` with a ``LoraConfig`` without ``task_type``, or
    ``PeftModel(model, config)`` (for those TRL trainers also a model that is not a PeftModel with a
    ``peft_config`` that is a ``LoraConfig`` without ``task_type``: they wrap it so); whose ``args``
    evaluate (``eval_strategy``/
    ``evaluation_strategy`` ``"steps"`` or ``"epoch"``) and pick the best model by the loss
    (``metric_for_best_model="eval_loss"``/``"loss"``, or ``load_best_model_at_end=True`` without a
    metric), without ``label_names``; and only where the project allows a transformers older than
    4.55.0.
    Why: before 4.55.0, Trainer takes the label names from the signature of the model class's
    ``forward``; a plain ``PeftModel.forward(*args, **kwargs)`` names no ``labels``, so Trainer finds
    none, computes no loss in evaluation and reports no ``eval_loss``: choosing the best model then
    fails with a KeyError after the first evaluation ("The `metric_for_best_model` training argument is
    set to 'eval_loss', which is not found in the evaluation metrics"), and the log says "No label_names
    provided for model class `PeftModel`" (huggingface/transformers#33420, #38130, huggingface/peft#1881,
    huggingface/trl#3694, hiyouga/LlamaFactory#7769, 2U1/Qwen-VL-Series-Finetune#52). transformers
    4.55.0 reads the base model's signature instead (huggingface/transformers#39265, for trl#3694); a
    ``task_type`` gives a PeftModel subclass whose ``forward`` names ``labels``. TRL's SFT, GKD and PRM
    trainers keep Trainer's label handling in every trl release that allows a transformers older than
    4.55 (0.7 to 0.20.0; trl 0.21.0 requires 4.55.0): none sets ``label_names`` or overrides
    ``prediction_step``, and each wraps the model with ``get_peft_model(model, peft_config)``, keeping
    the config's task type. TRL's other trainers are not judged: DPO, CPO, ORPO, KTO, BCO, GRPO and
    reward trainers compute the evaluation loss in their own ``prediction_step``.
    Example: ``LoraConfig(target_modules=["c_attn"])`` with ``metric_for_best_model="eval_loss"`` ->
    add ``task_type="CAUSAL_LM"``, or ``label_names=["labels"]`` to the arguments.
    Fix safety: no fix: the task type, or the label names, are the author's to state.
    """

    CODE = "LORA205"
    NAME = "eval-label-names"
    SEVERITY = "warning"
    SUMMARY = "A Trainer picking the best model by eval_loss on a plain PeftModel without label_names (transformers < 4.55)"
    PER_FILE = True
    KEYWORD_TRIGGERS = ("metric_for_best_model", "load_best_model_at_end")
    NEEDS_CALLED = ("train",)  # a trainer counts once its .train() is called

    VALID = [
        Valid(_seed(task=", task_type='CAUSAL_LM'"), **_OLD),
        Valid(_seed(best=_BEST + ", label_names=['labels']"), **_OLD),
        Valid(_seed(), **{"target-transformers-version": ">=4.55"}),
        Valid(_seed(best="load_best_model_at_end=True, metric_for_best_model='accuracy'"), **_OLD),
        # no evaluation of the loss asked for
        Valid(_seed(best="logging_steps=10"), **_OLD),
        Valid(_seed(task=", task_type=args.task"), **_OLD),
        # TRL: a task type given; a trainer with its own prediction_step; a newer transformers
        Valid(_trl(task=", task_type='CAUSAL_LM'"), **_OLD),
        Valid(_trl("DPOTrainer", "DPOConfig"), **_OLD),
        Valid(_trl(), **{"target-transformers-version": ">=4.55"}),
        Valid(_trl(best=_BEST + ", label_names=['labels']"), **_OLD),
        # a peft_config that may not be a LoraConfig
        Valid(_trl().replace("peft_config=LoraConfig(r=8, target_modules=['c_attn'])", "peft_config=make_config()"),
              **_OLD),
    ]
    INVALID = [
        Invalid(_seed(), message="eval_loss", line=8, column=11, **_OLD),
        Invalid(_seed(best="load_best_model_at_end=True"), message="load_best_model_at_end", line=8, **_OLD),
        Invalid(_trl(), message="this SFTTrainer evaluates a plain PeftModel", line=7, column=11, **_OLD),
        Invalid(_trl("GKDTrainer", "GKDConfig").replace("model=model", "model='gpt2'"), message="GKDTrainer",
                line=7, **_OLD),
        # a plain PeftModel given to the trainer
        Invalid(_seed().replace("from transformers import AutoModelForCausalLM, Trainer, TrainingArguments",
                                "from transformers import AutoModelForCausalLM\n"
                                "from trl import SFTConfig as TrainingArguments, SFTTrainer as Trainer"),
                message="SFTTrainer", line=9, **_OLD),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None or not allows_below(ctx.transformers, SEES_THROUGH_PEFT):
            return
        for training in lc.trainings():
            if training.kind != "trainer" or not training.args or (
                    training.trl and training.trainer not in TRL_LABEL_TRAINERS):
                continue
            whys = {_asks_eval_loss(args) for args in training.args}
            if None in whys or len(whys) != 1:
                continue
            histories = lc.histories(training.model, training.model_site)
            if certain_in_all(histories, lambda h: _plain(lc, h)) is None and not (
                    training.trl and _wraps_plain(lc, training, histories)):
                continue
            what = f"this {training.trainer}" if training.trl else "this Trainer"
            yield Finding(training.site.node,
                          f"{what} evaluates a plain PeftModel (no task_type) and {whys.pop()}, without "
                          f"label_names: before transformers 4.55.0, which the project allows, Trainer finds no "
                          f"'labels' in PeftModel.forward(*args, **kwargs), computes no eval_loss, and choosing "
                          f"the best model fails with a KeyError after the first evaluation; set "
                          f"task_type='CAUSAL_LM' (or the model's task) in the LoraConfig, or label_names=['labels']")


def _asks_eval_loss(args: Any) -> str | None:
    """Why the arguments need ``eval_loss`` (for the message), or None when that is not certain."""
    if args is None or args.value("label_names") not in (MISSING, None):
        return None
    strategy = args.value("eval_strategy")
    if strategy is MISSING:
        strategy = args.value("evaluation_strategy")
    if strategy not in ("steps", "epoch"):
        return None
    metric = args.value("metric_for_best_model")
    if metric in ("eval_loss", "loss"):
        return f"picks the best model by metric_for_best_model={metric!r}"
    if metric in (MISSING, None) and args.value("load_best_model_at_end") is True:
        return "sets load_best_model_at_end=True, which picks the best model by the loss"
    return None


def _plain(lc: Lifecycle, history: History) -> Step | None:
    """The step that makes a plain ``PeftModel`` (no task subclass) of this history, else None."""
    step = history.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE)
    if step is None or step.kind != GET_PEFT:
        return None
    func = step.node.func
    if isinstance(func, cst.Name) and func.value == "PeftModel" or (
            isinstance(func, cst.Attribute) and func.attr.value == "PeftModel"):
        return step
    configs = lc.config_of(step)
    if any(call is None or call.value("task_type", {"task_type": None}) not in (None,) for call in configs):
        return None
    return step


def _wraps_plain(lc: Lifecycle, training: Training, histories: list[History]) -> bool:
    """Whether a TRL trainer makes a plain PeftModel itself: its ``peft_config`` is, on every path, a
    ``LoraConfig`` without ``task_type``, and its model is not a PeftModel already (a known history
    without one, or a model id the trainer loads)."""
    if training.peft_config is None:
        return False
    configs = lc.configs_at(training.peft_config, training.site)
    if any(call is None or call.value("task_type", {"task_type": None}) is not None for call in configs):
        return False
    if all(h.known and h.steps and not h.is_peft() for h in histories):
        return True
    origins = lc.tracer.origins(training.model, training.site)
    return bool(origins) and all(
        o.node is not None and isinstance(o.index.value_of(o.node, o.at.scope, o.at.order), str) for o in origins)
