"""LORA008 new-tokens-not-trained: embeddings resized for new tokens after ``get_peft_model``, or
before it with no embedding or head trained and saved by the adapter."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis.lifecycle import GET_PEFT, MERGE, PEFT_LOAD, AUTO_PEFT_LOAD, RESIZE, History, Lifecycle, Step
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import certain_in_all, lifecycle_of, one_node

# module names that hold (or are) an input embedding or output head, in the architectures peft targets
_EMBEDDING_WORDS = ("embed", "lm_head", "wte", "shared", "word_embeddings", "head", "output", "emb")
_ADDS_TOKENS = ("add_tokens", "add_special_tokens")
_SEED = ("from peft import LoraConfig, get_peft_model\n"
         "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
         "tokenizer = AutoTokenizer.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
         "tokenizer.add_special_tokens({{'additional_special_tokens': ['<tool>', '</tool>']}})\n"
         "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
         "{first}\n{second}\n")
_RESIZE = "model.resize_token_embeddings(len(tokenizer))"


def _wrap(extra: str = "") -> str:
    return f"model = get_peft_model(model, LoraConfig(r=16, target_modules=['q_proj', 'v_proj']{extra}))"


def _seed(first: str = _RESIZE, second: str = "") -> str:
    return _SEED.format(first=first, second=second or _wrap())


class NewTokensNotTrained(Rule):
    """New token embeddings that the adapter never trains or never saves.

    What: in a file that adds tokens (``tokenizer.add_tokens``/``add_special_tokens``), (1)
    ``resize_token_embeddings`` on a model that is already, on every path, the result of
    ``get_peft_model``; or (2) ``resize_token_embeddings`` on every path before ``get_peft_model``
    with a ``LoraConfig`` whose ``target_modules``, ``modules_to_save`` and
    ``trainable_token_indices`` are all static and name no embedding or output head (no entry
    holding ``embed``, ``lm_head``, ``wte``, ``shared``, ``head``, ``output``...; ``"all-linear"``
    leaves both out). A regex ``target_modules`` string, a config built elsewhere or a resize on one
    path only is not judged.
    Why: the new rows of the resized embedding are randomly initialised. Wrapped before the resize,
    the new embedding module replaces the frozen one: the whole embedding trains, outside the
    adapter, and is not saved with it (artidoro/qlora#217). Resized before wrapping without the
    embedding (and ``lm_head``) in ``modules_to_save``/``target_modules``/``trainable_token_indices``,
    the new rows stay random during training and are not in the saved adapter: the reloaded model
    needs the same resize and still has random rows (huggingface/peft#2290, huggingface/peft#1700,
    allenai/open-instruct#142, shibing624/MedicalGPT#322). axolotl refuses the setup ("Please set
    lora_modules_to_save to [...] when using an adapter and changing the special tokens").
    Example: resize, then ``LoraConfig(target_modules=["q_proj", "v_proj"])`` -> add
    ``modules_to_save=["embed_tokens", "lm_head"]`` (or ``trainable_token_indices``, peft >= 0.15).
    Fix safety: no fix: which modules to train is the author's call (their names depend on the model).
    """

    CODE = "LORA008"
    NAME = "new-tokens-not-trained"
    SEVERITY = "warning"
    SUMMARY = "Embeddings resized for new tokens after get_peft_model, or before it with no embedding trained and saved"
    PER_FILE = True
    TRIGGERS = ("resize_token_embeddings",)

    VALID = [
        Valid(_seed(second=_wrap(", modules_to_save=['embed_tokens', 'lm_head']"))),
        Valid(_seed(second=_wrap(", trainable_token_indices=[32000, 32001]"))),
        Valid(_seed(second="model = get_peft_model(model, LoraConfig(r=16, target_modules=['q_proj', 'v_proj', "
                           "'embed_tokens', 'lm_head']))")),
        # no token added: the resize changes nothing
        Valid(_seed().replace("tokenizer.add_special_tokens({'additional_special_tokens': ['<tool>', '</tool>']})\n",
                              "tokenizer.pad_token = tokenizer.eos_token\n")),
        # resized on one path only, or targets chosen at run time
        Valid(_seed(first=f"if args.new_tokens:\n    {_RESIZE}")),
        Valid(_seed(second="model = get_peft_model(model, LoraConfig(r=16, target_modules=args.targets))")),
        # a regex may name the embedding
        Valid(_seed(second="model = get_peft_model(model, LoraConfig(r=16, target_modules=r'.*(q|v)_proj'))")),
    ]
    INVALID = [
        Invalid(_seed(), message="modules_to_save", line=7, column=1),
        Invalid(_seed(first=_wrap(), second=_RESIZE), message="after get_peft_model()", line=8, column=1),
        Invalid(_seed(second="model = get_peft_model(model, LoraConfig(r=16, target_modules='all-linear'))"),
                message="all-linear", line=7),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None or not any(lc.index.calls_by_name.get(name) for name in _ADDS_TOKENS):
            return
        for site in lc.index.calls_by_name.get(RESIZE, ()):
            func = site.node.func
            if not isinstance(func, cst.Attribute):
                continue
            wrapped = certain_in_all(lc.histories(func.value, site), _wrapped)
            if wrapped is not None:
                yield Finding(site.node, "resize_token_embeddings() after get_peft_model(): the resized embedding "
                                         "is a new module that replaces the frozen one, so the whole embedding "
                                         "trains outside the adapter and is not saved with it; resize before "
                                         "get_peft_model() and add the embedding (and lm_head) to "
                                         "modules_to_save or use trainable_token_indices")
                continue
            finding = self._before(lc, site)
            if finding is not None:
                yield finding

    def _before(self, lc: Lifecycle, resize: Any) -> Finding | None:
        """The resize happens before a ``get_peft_model`` whose config trains no embedding."""
        for site in lc.index.calls_by_name.get("get_peft_model", ()):
            positional = [a.value for a in site.node.args if a.keyword is None and not a.star]
            if not positional:
                continue
            steps = certain_in_all(lc.histories(positional[0], site),
                                   lambda h: next((s for s in h.of(RESIZE) if s.node is resize.node), None))
            if steps is None:
                continue
            configs = lc.config_of(_step_at(lc, site))
            reasons = [_untrained(call) for call in configs]
            if not reasons or any(reason is None for reason in reasons):
                continue
            return Finding(resize.node, f"resize_token_embeddings() adds randomly initialised rows, and the "
                                        f"LoraConfig given to get_peft_model() below {reasons[0]}: the new "
                                        f"tokens' embeddings are never trained and not saved with the adapter; add "
                                        f"the embedding and lm_head to modules_to_save (e.g. ['embed_tokens', "
                                        f"'lm_head']) or use trainable_token_indices")
        return None


def _wrapped(history: History) -> Step | None:
    step = history.last(GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD, MERGE)
    return step if step is not None and step.kind == GET_PEFT else None


def _step_at(lc: Lifecycle, site: Any) -> Step:
    from ..analysis.flow import Point

    return Step(GET_PEFT, site.node, lc.index, Point.of(site), True)


def _untrained(call: Any) -> str | None:
    """How the config leaves every embedding out (for the message), or None when it may not."""
    if call is None or call.open_ended:
        return None
    for name in ("trainable_token_indices",):
        keyword = call.get(name)
        if keyword is not None and keyword.value is not None:
            return None
    saved = call.get("modules_to_save")
    if saved is not None and not (saved.value is None or (isinstance(saved.value, (list, tuple, set)) and all(
            isinstance(v, str) and not _embedding(v) for v in saved.value))):
        return None
    targets = call.get("target_modules")
    if targets is None or targets.value is None:
        return "has no target_modules and no modules_to_save naming them"
    value = targets.value
    if value == "all-linear":
        return "targets 'all-linear', which leaves the embedding and lm_head out, and saves no embedding"
    if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) and not _embedding(v) for v in value):
        return "targets and saves no embedding or output head"
    return None


def _embedding(name: str) -> bool:
    return any(word in name for word in _EMBEDDING_WORDS)
