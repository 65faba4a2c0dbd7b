"""LORA012 tied-embedding-target: ``lm_head`` or the input embedding adapted or saved on a model that ties them."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall, ModelInfo
from ..analysis.model import APPLYING, APPLYING_KEYWORDS, checkpoint
from ..knowledge import peft_releases
from ..knowledge.architectures import transformers_in
from ..knowledge.matching import saved_names
from ..knowledge.tying import INPUT_EMBEDDINGS, ties_embeddings
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, lowest, newer, value_node, written_element
from ._examples import applied
from ._models import known, strings
from ._targets import matches, model_words

_PEFT_TIES = ("embed_tokens", "lm_head")  # the names peft's ensure_weight_tying recognises

def _load(keywords: str, model: str = "google/gemma-2-2b", load: str = "") -> str:
    return applied(keywords, model, load=load)


class TiedEmbeddingTarget(Rule):
    """``lm_head`` or the input embedding adapted or saved on a model whose config ties them.

    What: the model is known, its config ties the output embeddings to the input embeddings
    (``tie_word_embeddings`` in the checkpoint's config, else its model type's default for every
    allowed transformers version), and ``target_modules`` reaches ``lm_head`` or the input
    embedding (``embed_tokens``, ``wte``, ...) or ``modules_to_save`` wraps one of them, without
    ``ensure_weight_tying=True``. Not judged: a file that sets ``tie_word_embeddings`` itself (the
    model is loaded untied), a model class without output embeddings (a classifier), values that
    are not static or sit behind a version check.
    Why: both modules use one tensor. LoRA on ``lm_head`` changes the output projection only, and
    ``merge_and_unload()`` adds the update into the shared tensor, so the merged model's input
    embedding changes too (huggingface/peft#2018); ``modules_to_save`` trains a copy of one side,
    and the two diverge (unslothai/unsloth#3711, huggingface/peft#2864). peft >= 0.18.0 has
    ``ensure_weight_tying=True`` to keep the adapters of both tied (huggingface/peft#2803,
    huggingface/peft#2944); older releases only warn.
    Example: ``target_modules=["q_proj", "v_proj", "lm_head"]`` on ``google/gemma-2-2b`` ->
    ``ensure_weight_tying=True`` (peft >= 0.18), or load with ``tie_word_embeddings=False``.
    Fix safety: no fix: untying, tying the adapters or dropping the target are different choices.
    """

    CODE = "LORA012"
    NAME = "tied-embedding-target"
    SEVERITY = "warning"
    SUMMARY = "lm_head or the input embedding adapted or saved on a model that ties them"
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid(_load("target_modules=['q_proj', 'v_proj']")),
        Valid(_load("target_modules=['q_proj', 'lm_head'], ensure_weight_tying=True")),
        # Llama-2 does not tie its embeddings
        Valid(_load("target_modules=['q_proj', 'lm_head']", model="meta-llama/Llama-2-7b-hf")),
        # loaded untied: the file says so
        Valid(_load("modules_to_save=['lm_head']", load=", tie_word_embeddings=False")),
        # all-linear leaves the output embeddings out
        Valid(_load("target_modules='all-linear'")),
        # dynamic or version-dependent values, an unknown model, another library's config
        Valid(_load("target_modules=TARGETS")),
        Valid(_load("target_modules=['q_proj', 'lm_head'], ensure_weight_tying=args.tie")),
        Valid(_load("target_modules=['q_proj', 'lm_head'], **({'ensure_weight_tying': True} if NEW_PEFT else {})")
              .replace("from peft import", "import peft\nNEW_PEFT = peft.__version__ >= '0.18'\nfrom peft import")),
        Valid(_load("target_modules=['q_proj', 'lm_head']", model="my-org/gemma-finetune")),
        Valid(_load("target_modules=['q_proj', 'lm_head']").replace(
            "from peft import LoraConfig, get_peft_model", "from peft import get_peft_model\nfrom swift import LoraConfig")),
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForSequenceClassification\n\n"
              "model = AutoModelForSequenceClassification.from_pretrained('google/gemma-2-2b')\n"
              "model = get_peft_model(model, LoraConfig(task_type='SEQ_CLS', modules_to_save=['embed_tokens']))\n"),
    ]
    INVALID = [
        Invalid(_load("target_modules=['q_proj', 'v_proj', 'lm_head']"),
                message="ensure_weight_tying=True", line=5, column=77),
        Invalid(_load("target_modules=['q_proj', 'v_proj'], modules_to_save=['lm_head', 'embed_tokens']",
                      model="Qwen/Qwen2.5-0.5B"), message="diverge", line=5, column=95),
        # a regex reaching lm_head
        Invalid(_load("target_modules=r'.*\\.(q_proj|v_proj)|lm_head'"), message="adapts `lm_head`", line=5, column=56),
        # gpt2's config does not write the field: GPT2Config's default ties them
        Invalid(_load("target_modules=['c_attn'], modules_to_save=['wte']", model="gpt2"),
                message="by default", line=5, column=85),
        # peft < 0.18 has no ensure_weight_tying
        Invalid(_load("target_modules=['q_proj', 'lm_head']"), message="ensure_weight_tying needs peft >= 0.18.0",
                line=5, column=67, **{"target-peft-version": ">=0.10,<0.18"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        if known(call, "ensure_weight_tying", False) is not False or _untied_here(call):
            return
        targets = {found.model: found for found in matches(call, ctx)}
        for model in call.models:
            finding = self._finding(call, model, targets.get(model), ctx)
            if finding is not None:
                yield finding
                return

    def _finding(self, call: LoraCall, model: ModelInfo, found, ctx: RuleContext) -> Finding | None:
        arch = model.architecture
        outputs = arch.output_heads()
        resolution = checkpoint(model.name)
        if not outputs or resolution is None:
            return None
        versions = transformers_in(ctx.transformers)
        if ties_embeddings(resolution.model_type, resolution.config, versions) is not True:
            return None
        inputs = [n for m in arch.modules if m.cls == "Embedding" and "{" not in m.pattern
                  and m.leaf in INPUT_EMBEDDINGS for n in m.names()]
        tied = set(outputs) | set(inputs)
        adapted = sorted(tied & set(found.result.targeted)) if found is not None else []
        entries = strings(known(call, "modules_to_save"))
        saved = sorted(tied & set(saved_names(arch.names(), entries or ())))
        if not adapted and not saved:
            return None
        how = "in its config" if "tie_word_embeddings" in resolution.config else \
            f"by default for {resolution.model_type}"
        pair = f"`{outputs[0]}` to `{inputs[0]}`" if inputs else f"`{outputs[0]}` to its input embedding"
        parts = []
        if adapted:
            parts.append(f"target_modules adapts {_names(adapted)}: its LoRA update reaches one side only, and "
                         f"merge_and_unload() adds it into the tensor both share, changing the other side too")
        if saved:
            parts.append(f"modules_to_save trains a copy of {_names(saved)}, so the tied weights diverge")
        message = (f"{model_words(call, model)} ties {pair} (tie_word_embeddings=True {how}); "
                   + "; ".join(parts) + "; " + _remedy(ctx, [*adapted, *saved]))
        keyword = call.get("target_modules" if adapted else "modules_to_save")
        named = [*adapted, *saved]
        node = written_element(keyword, lambda v: any(n == v or n.endswith("." + v) for n in named)) or value_node(keyword)
        return Finding(node, message)


def _remedy(ctx: RuleContext, names: list[str]) -> str:
    since = peft_releases.field_span("ensure_weight_tying")
    untie = "load the model with tie_word_embeddings=False (and copy the embedding into lm_head)"
    if any(n.rsplit(".", 1)[-1] not in _PEFT_TIES for n in names):
        return f"peft's ensure_weight_tying ties only `embed_tokens`/`lm_head`; {untie}"
    if since is None or newer(since[0], lowest(ctx)):
        return f"ensure_weight_tying needs peft >= {since[0] if since else '?'}, and {allowed(ctx)}; {untie}"
    return f"set ensure_weight_tying=True (peft >= {since[0]}) to keep the adapters of both tied, or {untie}"


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _untied_here(call: LoraCall) -> bool:
    """Whether the file passes or sets ``tie_word_embeddings`` anywhere (the model may be untied)."""
    index = call.index
    if index is None:
        return True
    if any("tie_word_embeddings" in attributes for attributes in index.attribute_writes.values()):
        return True
    return "tie_word_embeddings" in index.passed_keywords()
