"""LORA008 new-tokens-not-trained: embeddings resized for new tokens after ``get_peft_model``, or
before it with no embedding or head trained and saved by the adapter."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis import UNKNOWN, LoraCall, ModelInfo
from ..analysis.lifecycle import GET_PEFT, MERGE, PEFT_LOAD, AUTO_PEFT_LOAD, RESIZE, History, Lifecycle, Step
from ..analysis.model import checkpoint
from ..knowledge.architectures import transformers_in
from ..knowledge.matching import entry_matcher, saved_names
from ..knowledge.tying import INPUT_EMBEDDINGS, ties_embeddings
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import lowest, value_node
from ._models import known, strings
from ._targets import model_words
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


# a trainer YAML's key for modules_to_save, by framework
_SAVED_KEY = {"axolotl": "lora_modules_to_save", "llamafactory": "additional_target"}
# axolotl's get_linear_embedding_layers (src/axolotl/loaders/utils.py, 0.19.0): the names its start-up
# check (check_model_config) wants in lora_modules_to_save when `tokens` adds tokens; others: the default
_AXOLOTL_CHECKED = {"gpt_neox": ("embed_in", "embed_out"), "falcon": ("word_embeddings", "lm_head"),
                    "nemotron_h": ("embeddings", "lm_head"), "bailing_hybrid": ("word_embeddings", "lm_head")}
_AXOLOTL_DEFAULT = ("embed_tokens", "lm_head")


def _axolotl(body: str, model: str = "gpt2") -> str:
    return f"base_model: {model}\nadapter: lora\nlora_r: 16\nlora_alpha: 32\n{body}"


def _llamafactory(body: str, model: str = "gpt2") -> str:
    return f"model_name_or_path: {model}\nstage: sft\nfinetuning_type: lora\nlora_target: c_attn\n{body}"


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

    In a trainer YAML (sources read in axolotl 0.19.0 and LLaMA-Factory 0.9.5), the keys that add
    tokens stand for the resize (the framework resizes the embeddings to the tokenizer), and what
    is reported is only what the framework lets through:
    axolotl's ``tokens`` and ``special_tokens.additional_special_tokens`` (``load_tokenizer`` in
    ``src/axolotl/loaders/tokenizer.py``) when ``lora_modules_to_save`` does not cover the model's
    input embedding (and its output head, unless the two are tied) by the names the model really
    has. axolotl refuses ``tokens`` at start-up unless ``lora_modules_to_save`` holds the names of
    its ``get_linear_embedding_layers`` (``check_model_config`` in ``src/axolotl/loaders/utils.py``:
    ``embed_tokens``/``lm_head`` for most model types), which is loud and not reported; that check
    passes for a model whose embedding has another name (GPT-2's ``wte``, BLOOM's
    ``word_embeddings``), and ``additional_special_tokens`` are added unchecked. LLaMA-Factory's
    ``add_tokens``, ``add_special_tokens``, ``new_special_tokens``, ``new_special_tokens_config``
    and ``resize_vocab: true`` (``patch_tokenizer`` in ``src/llamafactory/model/patcher.py`` sets
    ``resize_vocab`` when tokens were added): without ``additional_target`` it saves the input and
    output embeddings itself (``_setup_lora_tuning`` in ``src/llamafactory/model/adapter.py``,
    "Vocab has been resized"), so only an ``additional_target`` that leaves one of them out is
    reported. Not judged: targets chosen at run time (``lora_target_linear``, ``lora_target: all``),
    ``peft_trainable_token_indices``, other ``special_tokens`` entries (most name tokens the
    tokenizer has), a model whose input embedding the data cannot single out.
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
    NEEDS_CALLED = ("add_tokens", "add_special_tokens")  # a Python file's resize matters only where tokens are added

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
        # axolotl: the model's own names saved; without them axolotl refuses `tokens` at start-up itself
        Valid(_axolotl("tokens: ['<tool>']\nlora_modules_to_save: [embed_tokens, lm_head]\n",
                       model="meta-llama/Llama-2-7b-hf"), filename="train.yaml"),
        Valid(_axolotl("tokens: ['<tool>']\nlora_target_modules: [q_proj, v_proj]\n",
                       model="meta-llama/Llama-2-7b-hf"), filename="train.yaml"),
        Valid(_axolotl("tokens: ['<tool>']\nlora_modules_to_save: [embed_tokens, lm_head, wte]\n"), filename="train.yaml"),
        # special tokens the tokenizer has; trainable token rows; every linear layer chosen at run time
        Valid(_axolotl("special_tokens:\n  pad_token: <|endoftext|>\n"), filename="train.yaml"),
        Valid(_axolotl("special_tokens:\n  additional_special_tokens: ['<tool>']\npeft_trainable_token_indices: [50257]\n"),
              filename="train.yaml"),
        Valid(_axolotl("special_tokens:\n  additional_special_tokens: ['<tool>']\nlora_target_linear: true\n"),
              filename="train.yaml"),
        # LLaMA-Factory saves the resized embeddings itself when no additional_target is given
        Valid(_llamafactory("add_special_tokens: <tool>,</tool>\n"), filename="train.yaml"),
        Valid(_llamafactory("resize_vocab: true\nadditional_target: wte,lm_head\n"), filename="train.yaml"),
        Valid(_llamafactory("additional_target: lm_head\n"), filename="train.yaml"),  # no token added
    ]
    INVALID = [
        Invalid(_seed(), message="modules_to_save", line=7, column=1),
        Invalid(_seed(first=_wrap(), second=_RESIZE), message="after get_peft_model()", line=8, column=1),
        Invalid(_seed(second="model = get_peft_model(model, LoraConfig(r=16, target_modules='all-linear'))"),
                message="all-linear", line=7),
        # axolotl's start-up check wants embed_tokens and lm_head; GPT-2's input embedding is `wte`
        Invalid(_axolotl("tokens: ['<tool>']\nlora_modules_to_save: [embed_tokens, lm_head]\n"), filename="train.yaml",
                message="lora_modules_to_save does not cover its input embedding `transformer.wte`", line=6, column=23),
        # additional_special_tokens are added without axolotl's check
        Invalid(_axolotl("special_tokens:\n  additional_special_tokens: ['<tool>']\nlora_target_modules: [q_proj]\n",
                         model="meta-llama/Llama-2-7b-hf"), filename="train.yaml",
                message="(`special_tokens.additional_special_tokens`), and no lora_modules_to_save", line=2, column=1),
        # an additional_target of LLaMA-Factory's replaces the embeddings it would save itself
        Invalid(_llamafactory("add_tokens: <tool>\nadditional_target: embed_tokens\n", model="meta-llama/Llama-2-7b-hf")
                .replace("lora_target: c_attn", "lora_target: q_proj,v_proj"), filename="train.yaml",
                message="its output head `lm_head`", line=6, column=20),
        Invalid(_llamafactory("resize_vocab: true\nadditional_target: lm_head\n"), filename="train.yaml",
                message="resized for new tokens (`resize_vocab`)", line=6, column=20),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.source_kind in _SAVED_KEY:
            for call in calls:
                finding = next((f for model in call.models if (f := _in_config(call, model, ctx)) is not None), None)
                if finding is not None:
                    yield finding
            return
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


def _in_config(call: LoraCall, model: ModelInfo, ctx: RuleContext) -> Finding | None:
    """A trainer YAML that adds tokens and leaves the model's input embedding (or untied output
    head) out of what the adapter trains and saves, where the framework lets that through."""
    added = ctx.added_tokens
    if not added or call.open_ended or known(call, "trainable_token_indices") is not None:
        return None
    saved, targets = known(call, "modules_to_save"), known(call, "target_modules")
    saved = [] if saved is None else strings(saved)
    targets = [] if targets is None else strings(targets)
    if saved is None or targets is None:
        return None  # chosen at run time, or a regex
    arch = model.architecture
    inputs = [n for m in arch.modules if m.cls == "Embedding" and "{" not in m.pattern
              and m.leaf in INPUT_EMBEDDINGS for n in m.names()]
    if len(inputs) != 1:
        return None
    if ctx.source_kind == "axolotl" and "tokens" in added and not all(
            name in saved for name in _AXOLOTL_CHECKED.get(model.model_type, _AXOLOTL_DEFAULT)):
        return None  # axolotl refuses the config at start-up (check_model_config)
    resolution = checkpoint(model.name)
    tied = None if resolution is None else ties_embeddings(resolution.model_type, resolution.config,
                                                           transformers_in(ctx.transformers))
    wanted = [("input embedding", inputs[0])] + [("output head", n) for n in arch.output_heads() if tied is False]
    test = entry_matcher(lowest(ctx))
    names = arch.names()
    covered = set(saved_names(names, saved)) | {n for n in names if any(test(entry, n) for entry in targets)}
    missing = [(what, name) for what, name in wanted if name not in covered]
    if not missing:
        return None
    key = _SAVED_KEY[ctx.source_kind]
    keys = ", ".join(f"`{k}`" for k in added)
    gaps = " and ".join(f"its {what} `{name}`" for what, name in missing)
    leaves = ", ".join(name.rsplit(".", 1)[-1] for _, name in missing)
    keyword = call.get("modules_to_save")
    written = keyword is not None and keyword.arg is not None
    return Finding(value_node(keyword) if written else call.node,
                   f"the embeddings of {model_words(call, model)} are resized for new tokens ({keys}), and "
                   f"{f'{key} does not cover' if written else f'no {key} covers'} {gaps}: the new tokens' rows there are never "
                   f"trained and not saved with the adapter; add {leaves} to {key}")


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
