"""LORA007 head-not-trainable: a new classification head left frozen and unsaved; ``modules_to_save``
or ``rank_pattern``/``alpha_pattern`` entries that reach no module; ``modules_to_save=<list>.append(...)``."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from ..analysis import LoraCall, ModelInfo
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..knowledge import peft_releases
from ..knowledge.architectures import transformers_in
from ..knowledge.matching import pattern_key_test, saved_names
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import keyword_node, value_node, written_element
from ._examples import applied
from ._models import classifier, described, known, module_names, new_head, outside_note, safe_regex, strings
from ._targets import targetable

# list methods that change the list in place and return None
_IN_PLACE = frozenset({"append", "extend", "insert", "remove", "sort", "reverse", "clear"})
_WRONG_TASKS = ("CAUSAL_LM", "SEQ_2_SEQ_LM", "QUESTION_ANS")  # on a classifier: LORA203 reports them
_PATTERN_SEMANTICS_CHANGE = "0.15.0"

_SEQ = "AutoModelForSequenceClassification"


def _load(extra: str = "", model: str = "meta-llama/Llama-2-7b-hf", cls: str = _SEQ,
          targets: str = "['q_proj', 'v_proj']") -> str:
    return applied(f"target_modules={targets}{extra}", model, cls, load=", num_labels=2")


class HeadNotTrainable(Rule):
    """A classification head that is not trained or not saved, and entries that reach no module.

    What: (1) a model loaded with ``AutoModelForSequenceClassification``/``...ForTokenClassification``
    (or a concrete ``*For...Classification`` class) from a checkpoint that is not such a classifier
    (so the head is new, randomly initialised) is wrapped without ``task_type="SEQ_CLS"``/``"TOKEN_CLS"``
    and without its head (``score``, ``classifier``) in ``modules_to_save``; (2) ``modules_to_save``
    entries that no module name ends with, and ``rank_pattern``/``alpha_pattern`` keys that match no
    module name (with peft's semantics for the allowed versions: a regex for the name's last
    segments, ``(.*\\.)?(key)$`` from 0.15.0, ``.*\\.key$`` before); (3) ``modules_to_save`` bound
    to the result of ``list.append()`` (or another in-place list method), which is ``None``. The
    model must be known (see LORA001); a value that is not static, behind a version check or in
    another library's config class is not judged.
    Why: peft freezes every base weight; only the task types ``SEQ_CLS``/``TOKEN_CLS`` add the head
    to ``modules_to_save``. Otherwise the head keeps its random initialisation, is not in the saved
    adapter, and the reloaded model gets another random head: accuracy at chance after reload
    (huggingface/peft#876, huggingface/transformers#26160, huggingface/peft#1070,
    2U1/Qwen-VL-Series-Finetune#208; a head in ``target_modules`` gets LoRA weights that are saved,
    but its random base weights are not). peft ignores a misspelt ``modules_to_save`` entry
    (``"scores"``, huggingface/trl#895) without a word, and a ``rank_pattern`` key that matches
    nothing (peft 0.21.2 warns, 0.20 and earlier say nothing); ``modules_to_save=mods.append("classifier")`` passes ``None`` (huggingface/peft#577).
    Example: ``AutoModelForSequenceClassification.from_pretrained("meta-llama/Llama-2-7b-hf")``
    with ``LoraConfig(target_modules=["q_proj", "v_proj"])`` -> add ``task_type="SEQ_CLS"``.
    Fix safety: no fix: the task type (or the head's name) is the user's to choose.
    """

    CODE = "LORA007"
    NAME = "head-not-trainable"
    SEVERITY = "warning"
    SUMMARY = ("A new classification head left frozen and unsaved; modules_to_save or rank_pattern "
               "entries that match no module")
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid(_load(", task_type='SEQ_CLS'")),
        Valid(_load(", task_type=TaskType.SEQ_CLS").replace("LoraConfig, ", "LoraConfig, TaskType, ")),
        Valid(_load(", modules_to_save=['score']")),
        # the task type is chosen at run time, or only on some peft versions: not judged
        Valid(_load(", task_type=args.task_type")),
        Valid("import peft\nfrom peft import LoraConfig, get_peft_model\nfrom transformers import "
              "AutoModelForSequenceClassification\n\n"
              "model = AutoModelForSequenceClassification.from_pretrained('gpt2')\n"
              "extra = {'task_type': 'SEQ_CLS'} if peft.__version__ >= '0.3' else {}\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['c_attn'], **extra))\n"),
        # a task type that is no TaskType member is LORA004's (invalid-value) finding
        Valid(_load(", task_type='SEQ_CLASS'")),
        # a head class the architecture data does not record builds the checkpoint's model under a
        # prefix plus its own head (BertForQuestionAnswering: `bert.*` and `qa_outputs`): its module
        # names are not known, so no entry is provably missing
        Valid(_load(", modules_to_save=['qa_outputs']", model="bert-base-uncased", targets="['query', 'value']",
                    cls="AutoModelForQuestionAnswering")),
        # a causal LM has no new head
        Valid(_load(cls="AutoModelForCausalLM")),
        # an unknown model, another library's LoraConfig: not judged
        Valid(_load(model="my-org/private-classifier")),
        Valid(_load().replace("from peft import LoraConfig, get_peft_model",
                              "from peft import get_peft_model\nfrom swift import LoraConfig")),
        # modules_to_save entries are matched as name endings, like peft: `score` and `lm_head` exist
        Valid(_load(", task_type='SEQ_CLS', modules_to_save=['model.embed_tokens', 'score'])")),
        # rank_pattern keys are regexes for the names' last segments
        Valid(_load(", task_type='SEQ_CLS', rank_pattern={'layers\\\\.0\\\\.self_attn\\\\.q_proj': 16, "
                    "'(q|v)_proj': 4}")),
        # an invalid or explosive regex is LORA004's or not evaluated
        Valid(_load(", task_type='SEQ_CLS', rank_pattern={'(a+)+$': 4})")),
        # a token classifier whose head is named in modules_to_save: the name is not recorded, not judged
        Valid(_load(", modules_to_save=['classifier']", cls="AutoModelForTokenClassification",
                    model="bert-base-uncased", targets="['query', 'value']")),
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
              "mods = ['lm_head']\nmods.append('embed_tokens')\n"
              "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['q_proj'], modules_to_save=mods))\n"),
    ]
    INVALID = [
        Invalid(_load(), message="randomly initialised `score` head", line=5, column=10),
        Invalid(_load(model="bert-base-uncased", targets="['query', 'value']", cls="BertForSequenceClassification"),
                message="`classifier` head", line=5, column=10),
        # the head in target_modules gets LoRA weights, but its random base weights are not saved
        Invalid(_load(targets="['q_proj', 'v_proj', 'score']"), message="its random base weights", line=5),
        Invalid(_load(", modules_to_save=['scores']"), message="['scores'] match no module", line=5, column=95),
        # GPT-NeoX's output layer is `lm_head` in transformers 5.x, `embed_out` in 4.x
        Invalid("from peft import LoraConfig\n\n"
                "LoraConfig(target_modules=['query_key_value'], modules_to_save=['embed_out'])\n",
                message="(checked against transformers 5.24.0, the one the project allows; in transformers 4.57.6 "
                        "they match modules of the model", line=3, column=65,
                model="EleutherAI/pythia-70m", **{"target-transformers-version": ">=5"}),
        Invalid(_load(", task_type='SEQ_CLS', rank_pattern={'qproj': 16}"),
                message="rank_pattern key 'qproj' matches no module", line=5, column=113),
        Invalid(_load(", task_type='SEQ_CLS', modules_to_save=mods.append('score')").replace(
            "config =", "mods = ['embed_tokens']\nconfig ="), message="list.append() returns None", line=6, column=115),
        Invalid(_load(", task_type='SEQ_CLS', modules_to_save=mods").replace(
            "config =", "mods = ['embed_tokens'].append('score')\nconfig ="), message="returns None", line=6),
        Invalid(_load(cls="AutoModelForTokenClassification", model="gpt2", targets="['c_attn']"),
                message="TOKEN_CLS", line=5, column=10),
        # key semantics before peft 0.15: the key must follow a dot, so a full name from the root fails
        Invalid(_load(", task_type='SEQ_CLS', alpha_pattern={'model.layers.0.self_attn.q_proj': 32}"),
                message="alpha_pattern key", line=5, **{"target-peft-version": "==0.14.0"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        appended = self._none_from_method(call)
        if appended is not None:
            yield appended
            return
        versions = transformers_in(ctx.transformers)
        names = [module_names(model, versions) for model in call.models]
        if any(n is None for n in names):
            return
        unmatched = self._unmatched_saved(call, names, ctx) if names else None
        if unmatched is not None:
            yield unmatched
        else:  # a model whose module names are unknown still has a head that can be left frozen
            for model in (*call.models, *call.unnamed_models):
                head = self._frozen_head(call, model, ctx)
                if head is not None:
                    yield head
                    break
        for option in ("rank_pattern", "alpha_pattern"):
            if names:
                yield from self._unmatched_keys(call, option, names, ctx)

    def _frozen_head(self, call: LoraCall, model: ModelInfo, ctx: RuleContext) -> Finding | None:
        kind = classifier(model)
        if kind is None or not new_head(model):
            return None
        task_type = known(call, "task_type")
        saved = known(call, "modules_to_save")
        entries = [] if saved is None else strings(saved)
        if not (task_type is None or isinstance(task_type, str)) or entries is None:
            return None
        if task_type in ("SEQ_CLS", "TOKEN_CLS") or task_type in _WRONG_TASKS:
            return None
        if task_type is not None and peft_releases.option_span("task_type", task_type) is None:
            return None  # no TaskType member (a typo of SEQ_CLS?): LORA004's finding
        arch = model.architecture
        heads = [arch.classifier] if kind == "SEQ_CLS" and arch.task == "sequence_classification" \
            and arch.classifier else None
        if heads is None:
            if entries:
                return None  # the head's name is not recorded: whatever is saved may be it
            head_words = "a randomly initialised `classifier`/`score` head"
        else:
            wrapped = saved_names(arch.names(), entries)
            if any(n == h or n.startswith(h + ".") for n in wrapped for h in heads):
                return None
            head_words = f"a randomly initialised `{heads[0]}` head"
        message = (f"{described(call, model)} has {head_words} ({model.loader} adds it to a checkpoint "
                   f"that has none); without task_type='{kind}' or the head in modules_to_save, peft "
                   f"keeps it frozen at its random values and leaves it out of the saved adapter, so "
                   f"the reloaded model gets another random head (accuracy near chance); "
                   f"set task_type='{kind}'")
        targets = known(call, "target_modules")
        if heads is not None and isinstance(targets, (list, tuple, set)) and any(
                isinstance(t, str) and h.endswith(t) for t in targets for h in heads):
            message += (f" (`{heads[0]}` in target_modules gets LoRA weights, but its random base "
                        f"weights are still not saved)")
        keyword = call.get("task_type")
        node = value_node(keyword) if keyword is not None else (call.anchor or call.node.func)
        return Finding(node, message)

    def _unmatched_saved(self, call: LoraCall, names: list[set[str]], ctx: RuleContext) -> Finding | None:
        keyword = call.get("modules_to_save")
        entries = strings(known(call, "modules_to_save"))
        if keyword is None or not entries:
            return None
        written = set().union(*call.index.attribute_writes.values()) if call.index is not None else set()
        missing = [e for e in entries if e not in written and e.rpartition(".")[2] not in written
                   and not any(n.endswith(e) for each in names for n in each)]
        if not missing:
            return None
        model = call.models[0]
        message = (f"modules_to_save entries {missing!r} match no module of {described(call, model)}"
                   f"{outside_note(model, ctx, lambda arch: all(any(n.endswith(e) for n in arch.names()) for e in missing))}: "
                   f"peft wraps the modules whose names end with an entry and ignores the rest without a word, "
                   f"so {'they are' if len(missing) > 1 else 'it is'} neither trained nor saved")
        heads = [model.architecture.classifier] if model.architecture.classifier else []
        if heads and classifier(model):
            message += f"; the model's head is `{heads[0]}`"
        return Finding(written_element(keyword, lambda v: v == missing[0]) or value_node(keyword), message)

    def _unmatched_keys(self, call: LoraCall, option: str, names: list[set[str]],
                        ctx: RuleContext) -> Iterator[Finding]:
        keyword = call.get(option)
        value = known(call, option, {})
        if keyword is None or not isinstance(value, dict):
            return
        tests = {pattern_key_test(v) for v in _semantics(ctx)}
        for key in value:
            if not isinstance(key, str) or not safe_regex(key):
                continue
            if any(test(key, n) for test in tests for each in names for n in each):
                continue
            model = call.models[0]
            default = "r" if option == "rank_pattern" else "lora_alpha"
            yield Finding(_key_node(keyword, key) or keyword_node(keyword), (
                f"{option} key {key!r} matches no module of {described(call, model)}: peft reads each key as "
                f"a regex for a module name's last segments{_semantics_note(ctx)} and gives every module no key "
                f"matches the global {default} (peft 0.21.2 warns at get_peft_model(), 0.20 and earlier say nothing; "
                f"targetable modules: {targetable(model)})"))

    @staticmethod
    def _none_from_method(call: LoraCall) -> Finding | None:
        keyword = call.get("modules_to_save")
        if keyword is None or call.index is None or call.site is None or call.is_guarded("modules_to_save"):
            return None
        expr = keyword.node
        scope = call.site.scope
        if isinstance(expr, cst.Name):
            binding = call.index.binding_of(expr, scope)
            if binding is None or binding.kind != "assign" or binding.value is None:
                return None
            expr, scope = binding.value, binding.scope
        if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value in _IN_PLACE and _is_list(call, expr.func.value, scope)):
            return None
        method = expr.func.attr.value
        return Finding(value_node(keyword), (
            f"modules_to_save is the result of list.{method}(), and list.{method}() returns None: peft "
            f"gets modules_to_save=None and trains and saves no extra module; call {method}() first and "
            f"pass the list"))


def _is_list(call: LoraCall, expr: cst.BaseExpression, scope) -> bool:
    """Whether ``expr`` is a list display, comprehension or ``list(...)``, or a name bound once to one."""
    if isinstance(expr, cst.Name) and call.index is not None:
        binding = call.index.binding_of(expr, scope)
        if binding is None or binding.kind != "assign" or binding.value is None:
            return False
        expr = binding.value
    if isinstance(expr, (cst.List, cst.ListComp)):
        return True
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "list" \
        and call.index is not None and call.index.is_builtin("list", scope)


def _semantics(ctx: RuleContext) -> list[str]:
    """One allowed peft version per rank_pattern semantics (before and from 0.15.0)."""
    from packaging.version import Version

    change = Version(_PATTERN_SEMANTICS_CHANGE)
    old = [v for v in ctx.peft_versions if Version(v) < change]
    new = [v for v in ctx.peft_versions if Version(v) >= change]
    return [group[-1] for group in (old, new) if group]


def _semantics_note(ctx: RuleContext) -> str:
    if all(_older(v) for v in _semantics(ctx)):
        return ", after a dot (peft < 0.15 never matches a key from a name's first segment)"
    return ""


def _older(version: str) -> bool:
    from packaging.version import Version

    return Version(version) < Version(_PATTERN_SEMANTICS_CHANGE)


def _key_node(keyword, key: str) -> cst.CSTNode | None:
    if keyword.arg is None or not isinstance(keyword.node, cst.Dict):
        return None
    for element in keyword.node.elements:
        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) \
                and element.key.evaluated_value == key:
            return element.key
    return None
