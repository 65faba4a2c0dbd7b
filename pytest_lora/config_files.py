"""The LoraConfig a config file stands for when it is trained, for ``--lora-check``'s runtime half.

- ``adapter_config.json``: loaded as ``PeftModel.from_pretrained(..., is_trainable=True)`` loads
  it (``runtime_check.verify`` with ``source="adapter_config"``), on the model its
  ``base_model_name_or_path`` names, built for its ``task_type``.
- axolotl and LLaMA-Factory YAML: the keywords lora-lint reads from the file
  (``lint_rules.sources.trainer_yaml``), plus what the framework itself passes to peft
  (``task_type="CAUSAL_LM"``; axolotl's ``bias="none"`` and ``target_modules=[]`` when none are
  written), on a causal-LM skeleton of the model its model key names.

A config is verified only when everything the framework passes is known: a value it decides at
run time (``UNKNOWN``: axolotl's ``lora_target_linear``, LLaMA-Factory's ``lora_target: all`` or
no ``lora_target``, a PiSSA or LoftQ init, an omitted axolotl rank, the embeddings LLaMA-Factory
saves after adding tokens, an axolotl number or flag written as a string, which its schema
converts) or a setting that changes which model is wrapped (plugins, reward models, another
model class, LLaMA-Factory's reward/PPO stages, Unsloth) leaves it out, as does a model
lora-lint cannot resolve, one that is not a causal LM, or a multimodal one (both frameworks wrap
those their own way).
"""
from __future__ import annotations

import json
from typing import Any

from lint_rules.sources import adapter_config, for_name, trainer_yaml
from lint_rules.sources.config_program import UNKNOWN, Document, without_bom

# peft's task_type -> the skeleton's task (None: the checkpoint's own)
_TASKS = {"CAUSAL_LM": "causal_lm", "SEQ_2_SEQ_LM": "seq2seq_lm", "SEQ_CLS": "sequence_classification",
          "FEATURE_EXTRACTION": "base", None: None}
_NOT_BUILT = {"TOKEN_CLS", "QUESTION_ANS"}  # task types whose model classes no skeleton is built for
# what each framework passes to peft besides the file's keys (the file's keys win)
_PASSED = {"axolotl": {"target_modules": [], "bias": "none", "task_type": "CAUSAL_LM"},
           "llamafactory": {"task_type": "CAUSAL_LM"}}
# axolotl's schema (pydantic) turns a string written for these into a number or a bool before peft sees it
_AXOLOTL_COERCED = ("r", "lora_alpha", "lora_dropout", "use_dora", "use_rslora", "fan_in_fan_out",
                    "ensure_weight_tying")
_LLAMAFACTORY_CAUSAL_STAGES = ("pt", "sft", "dpo", "kto")  # rm and ppo add a value head
_MULTIMODAL = ("vision_config", "text_config", "audio_config")

Found = tuple[int, str, "str | None", dict, str]  # line, model, task, keywords, source kind


def configs(filename: str, text: str) -> list[Found]:
    """The config of an adapter_config.json or trainer YAML file, as ``runtime_check.verify``'s
    arguments; empty when the file is not one or its config cannot be proved (see above)."""
    source = for_name(filename)
    try:
        if source is adapter_config:
            return _saved(text)
        if source is trainer_yaml:
            return _trainer(text)
    except (ValueError, IndexError, RecursionError):  # not JSON or YAML: lint reports it (LORA000)
        return []
    return []


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _saved(text: str) -> list[Found]:
    document = adapter_config.read(text)
    if document is None:
        return []
    data = json.loads(without_bom(text))  # what peft reads: the last of a key written twice
    model, task_type = data.get("base_model_name_or_path"), data.get("task_type")
    if not isinstance(model, str) or task_type in _NOT_BUILT:
        return []
    marker = [s for s in document.settings if s.name == "peft_type"][-1]
    task = _TASKS.get(task_type) if isinstance(task_type, str) or task_type is None else None
    return [(_line(text, marker.key[0]), model, task, data, adapter_config.KIND)]


def _trainer(text: str) -> list[Found]:
    document = trainer_yaml.read(text)
    if document is None:
        return []
    settings = _settings(document)
    model = settings.pop("base_model_name_or_path", None) if settings is not None else None
    if not isinstance(model, str) or not _model_wrapped_as_given(document.kind, text, model):
        return []
    if document.kind == "llamafactory" and "target_modules" not in settings:
        return []  # no lora_target: every linear layer, found on the model at run time
    if document.kind == "axolotl" and any(isinstance(settings.get(name), str) for name in _AXOLOTL_COERCED):
        return []
    kwargs = {**_PASSED[document.kind], **settings}
    return [(_line(text, document.anchor[0]), model, "causal_lm", kwargs, document.kind)]


def _settings(document: Document) -> dict | None:
    """The keywords the file sets (the later of a key written twice); None when one is unknown."""
    found = {row.setting.name: row.setting.value for row in document.rows}
    return found if all(_known(value) for value in found.values()) else None


def _known(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_known(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _known(v) for k, v in value.items())
    return value is not UNKNOWN and (value is None or isinstance(value, (bool, int, float, str)))


def _model_wrapped_as_given(kind: str, text: str, model: str) -> bool:
    """Whether the framework wraps the causal LM the file names, with nothing of its own on top."""
    import yaml

    from pytest_lora.skeletons import UnresolvedModelError, resolve_for_build

    data = yaml.load(without_bom(text), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if kind == "axolotl":
        model_class = data.get("type_of_model") or data.get("model_type")
        if data.get("plugins") or data.get("reward_model") or data.get("process_reward_model") \
                or data.get("unfrozen_parameters") \
                or not (model_class is None or (isinstance(model_class, str) and model_class.endswith("ForCausalLM"))):
            return False
    elif data.get("stage", "sft") not in _LLAMAFACTORY_CAUSAL_STAGES or data.get("use_unsloth") or data.get("use_kt"):
        return False
    try:
        resolution = resolve_for_build(model)
    except UnresolvedModelError:
        return False
    return resolution.task == "causal_lm" and not any(key in resolution.config for key in _MULTIMODAL)
