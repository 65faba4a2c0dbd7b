"""LORA203 task-type-mismatch: ``task_type`` disagrees with the class the model was loaded with."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from ..analysis import LoraCall, ModelInfo
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import value_node
from ._examples import applied
from ._models import classifier, described, known, loaded_task

_PEFT_CLASS = {"CAUSAL_LM": "PeftModelForCausalLM", "SEQ_2_SEQ_LM": "PeftModelForSeq2SeqLM",
               "SEQ_CLS": "PeftModelForSequenceClassification", "TOKEN_CLS": "PeftModelForTokenClassification",
               "QUESTION_ANS": "PeftModelForQuestionAnswering"}
_GENERATIVE = ("CAUSAL_LM", "SEQ_2_SEQ_LM")
_CLASSIFYING = ("SEQ_CLS", "TOKEN_CLS", "QUESTION_ANS")

def _load(task: str, cls: str = "AutoModelForCausalLM", model: str = "meta-llama/Llama-2-7b-hf") -> str:
    return applied(f"target_modules=['q_proj', 'v_proj'], task_type={task}", model, cls)


class TaskTypeMismatch(Rule):
    """``task_type`` names another kind of model than the class the config is applied to.

    What: the model is loaded in the flow (``AutoModelForSequenceClassification.from_pretrained(...)``,
    ``LlamaForCausalLM.from_pretrained(...)``) and ``task_type`` is a generative one (``CAUSAL_LM``,
    ``SEQ_2_SEQ_LM``) on a sequence/token classifier, or ``SEQ_2_SEQ_LM`` or a classifying one
    (``SEQ_CLS``, ``TOKEN_CLS``, ``QUESTION_ANS``) on a decoder-only causal LM. A model known only
    by name (a ``model=`` comment or setting) has no class and is not judged, nor is a task type
    that is not static or is behind a version check.
    Why: ``task_type`` picks the ``PeftModel`` subclass. ``PeftModelForCausalLM`` reads the model's
    ``prepare_inputs_for_generation``, which classifiers no longer have (transformers >= 4.50), so
    ``get_peft_model()`` raises AttributeError; with older transformers it wraps the classifier
    without adding its head to ``modules_to_save``, and the head is neither trained nor saved
    (2U1/Qwen-VL-Series-Finetune#208, huggingface/peft#2528, huggingface/peft#1589).
    ``SEQ_2_SEQ_LM`` on a decoder-only model is written into ``adapter_config.json``, and loading
    the adapter with ``AutoPeftModelForCausalLM`` raises ValueError; ``SEQ_CLS`` on a causal LM
    looks for a ``classifier``/``score`` head the model does not have and sends class labels to a
    language-model loss.
    Example: ``task_type="CAUSAL_LM"`` on ``AutoModelForSequenceClassification`` -> ``"SEQ_CLS"``.
    Fix safety: no fix: the class or the task type may be the mistake.
    """

    CODE = "LORA203"
    NAME = "task-type-mismatch"
    SEVERITY = "warning"
    SUMMARY = "task_type disagrees with the class the model is loaded with"
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid(_load("'CAUSAL_LM'")),
        Valid(_load("'SEQ_CLS'", cls="AutoModelForSequenceClassification")),
        Valid(_load("TaskType.TOKEN_CLS", cls="LlamaForTokenClassification").replace(
            "LoraConfig, ", "LoraConfig, TaskType, ")),
        Valid(_load("'SEQ_2_SEQ_LM'", cls="AutoModelForSeq2SeqLM", model="t5-small").replace(
            "['q_proj', 'v_proj']", "['q', 'v']")),
        # no class in the flow, a dynamic or version-dependent task type: not judged
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj'], task_type='SEQ_2_SEQ_LM')\n",
              model="meta-llama/Llama-2-7b-hf"),
        Valid(_load("args.task_type", cls="AutoModelForSequenceClassification")),
        Valid(_load("'CAUSAL_LM' if peft.__version__ >= '0.3' else None", cls="AutoModelForSequenceClassification")
              .replace("from peft import", "import peft\nfrom peft import")),
        Valid("import peft\nfrom peft import LoraConfig, get_peft_model\n"
              "from transformers import AutoModelForSequenceClassification\n\n"
              "if peft.__version__ < '0.3':\n"
              "    config = LoraConfig(target_modules=['q_proj'], task_type='CAUSAL_LM')\n"
              "else:\n    config = LoraConfig(target_modules=['q_proj'], task_type='SEQ_CLS')\n"
              "model = AutoModelForSequenceClassification.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
              "model = get_peft_model(model, config)\n"),
        # an unknown checkpoint, another library's LoraConfig
        Valid(_load("'CAUSAL_LM'", cls="AutoModelForSequenceClassification", model="my-org/reward-model")),
        Valid(_load("'CAUSAL_LM'", cls="AutoModelForSequenceClassification").replace(
            "from peft import LoraConfig, get_peft_model", "from peft import get_peft_model\nfrom swift import LoraConfig")),
    ]
    INVALID = [
        Invalid(_load("'CAUSAL_LM'", cls="AutoModelForSequenceClassification"),
                message="prepare_inputs_for_generation", line=5, column=88),
        Invalid(_load("TaskType.CAUSAL_LM", cls="BertForTokenClassification", model="bert-base-uncased").replace(
            "LoraConfig, ", "LoraConfig, TaskType, ").replace("['q_proj', 'v_proj']", "['query', 'value']"),
                message="task_type='TOKEN_CLS'", line=5, column=86),
        Invalid(_load("'SEQ_2_SEQ_LM'"), message="AutoPeftModelForCausalLM", line=5, column=88),
        Invalid(_load("'SEQ_CLS'", cls="LlamaForCausalLM"), message="expects a classification head", line=5, column=88),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        task_type = known(call, "task_type")
        keyword = call.get("task_type")
        if not isinstance(task_type, str) or keyword is None:
            return
        for model in (*call.models, *call.unnamed_models):  # the loading class is all it reads
            message = _mismatch(call, task_type, model)
            if message is not None:
                yield Finding(_node(keyword), message)
                return


def _mismatch(call: LoraCall, task_type: str, model: ModelInfo) -> str | None:
    wrapper = _PEFT_CLASS.get(task_type)
    if wrapper is None or model.loader is None:
        return None
    kind = classifier(model)
    words = f"task_type={task_type!r} wraps {described(call, model)} as {wrapper}"
    if kind is not None and task_type in (*_GENERATIVE, "QUESTION_ANS"):
        if task_type == "QUESTION_ANS":
            return (f"{words}, which saves a `qa_outputs` head this classifier does not have and passes answer "
                    f"positions to its forward(); its own head is neither trained nor saved; use task_type='{kind}'")
        return (f"{words}, which reads the model's prepare_inputs_for_generation: a classifier has none "
                f"(transformers >= 4.50), so get_peft_model() raises AttributeError; with older transformers "
                f"the classification head is neither trained nor saved; use task_type='{kind}'")
    if loaded_task(model) == "causal_lm":
        if task_type == "SEQ_2_SEQ_LM":
            return (f"{words}, a decoder-only model: adapter_config.json then says SEQ_2_SEQ_LM, so loading the "
                    f"adapter with AutoPeftModelForCausalLM.from_pretrained() raises ValueError, and peft passes "
                    f"encoder-decoder arguments to it; use task_type='CAUSAL_LM'")
        if task_type in _CLASSIFYING:
            return (f"{words}, which expects a classification head (`classifier`/`score`/`qa_outputs`) that a "
                    f"causal LM does not have, and feeds class labels to its language-model loss; "
                    f"load it with AutoModelForSequenceClassification, or use task_type='CAUSAL_LM'")
    return None


def _node(keyword) -> cst.CSTNode:
    return value_node(keyword)
