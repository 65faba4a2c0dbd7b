"""LORA014 target-kind-unsupported: a ``target_modules`` entry reaches modules peft cannot wrap,
or a vision-language model's vision tower that the entry was not written for."""
from __future__ import annotations

import re
from typing import Iterator

from ..analysis import LoraCall, ModelInfo
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..knowledge import peft_releases
from ..knowledge.architectures import Architecture
from ..knowledge.matching import ALL_LINEAR, MatchResult, match_target_modules
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, highest, listing, lowest, value_node, written_element
from ._examples import applied
from ._targets import Targets, matches, model_words, options

# where a vision-language model keeps its image encoder, and its language model
_TOWER = frozenset({"vision_tower", "visual", "vision_model", "vision_encoder", "image_encoder", "image_tower",
                    "image_model", "high_res_vision_model"})
_LANGUAGE = frozenset({"language_model", "text_model"})

def _load(keywords: str, model: str = "Qwen/Qwen2-VL-2B-Instruct", cls: str = "AutoModel") -> str:
    return applied(keywords, model, cls)


class TargetKindUnsupported(Rule):
    """An entry of ``target_modules`` that reaches a module peft cannot wrap (error), or that
    also reaches the vision tower of a vision-language model (warning).

    What: the model is known and the value static. (1) An entry (a list entry, or the whole
    regex) matches a module whose kind LoRA does not wrap in some allowed peft release: a
    container (``mlp``, ``self_attn``, a decoder layer), a norm, or a convolution before the
    release that added it (``Conv2d`` 0.4.0, ``Conv3d`` 0.14.0, ``Conv1d`` and
    ``nn.MultiheadAttention`` 0.15.0; generated from each release's layer dispatch). Judged in
    every allowed transformers version, with ``exclude_modules``, ``modules_to_save`` and
    ``layers_to_transform`` applied as peft applies them. (2) ``"all-linear"``, or a list entry
    naming a layer that both the language model and the vision tower have (``q_proj``,
    ``fc1``), on a model whose language model sits beside a vision tower.
    Why: (1) ``get_peft_model`` raises "Target module ... is not supported" after the model
    has loaded (microsoft/LoRA#192 for a container, huggingface/peft#1604 for ``nn.Conv1d``,
    hiyouga/LlamaFactory#6938 for Qwen2-VL's ``Conv3d`` patch embedding reached by ``proj``).
    (2) peft adapts the image encoder too, which is rarely meant when fine-tuning the
    language side: more memory, a different model (haotian-liu/LLaVA#1380,
    modelscope/ms-swift#2640, zjysteven/lmms-finetune#14).
    Example: ``["proj"]`` on Qwen2-VL with peft 0.13 (reaches the ``Conv3d`` patch
    embedding); ``"all-linear"`` on Qwen2-VL -> a regex such as
    ``r"(.*\\.)?language_model\\..*\\.(q_proj|...)"``.
    Fix safety: no fix: whether to narrow the entry, name the layers inside a container or
    raise the peft floor is a choice.
    """

    CODE = "LORA014"
    NAME = "target-kind-unsupported"
    SEVERITY = "error"
    SUMMARY = "A target_modules entry reaches a module peft cannot wrap, or a vision tower"
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid(_load("target_modules=['q_proj', 'v_proj']", model="meta-llama/Llama-2-7b-hf",
                    cls="AutoModelForCausalLM")),
        # the Conv3d patch embedding is wrappable from peft 0.14.0
        Valid(_load("target_modules=['proj']"), **{"target-peft-version": ">=0.14"}),
        # a regex that keeps to the language model
        Valid(_load(r"target_modules=r'(.*\.)?language_model\..*\.(q_proj|v_proj)'")),
        # the vision tower is named on purpose, or excluded
        Valid(_load("target_modules=['qkv', 'q_proj']")),
        Valid(_load("target_modules='all-linear', exclude_modules=r'.*visual.*'")),
        # a container's layers, excluded: peft never reaches the container
        Valid(_load("target_modules=['mlp', 'q_proj'], exclude_modules=['mlp']", model="meta-llama/Llama-2-7b-hf",
                    cls="AutoModelForCausalLM")),
        # dynamic values, an unknown model, another library's LoraConfig
        Valid(_load("target_modules=TARGETS", model="meta-llama/Llama-2-7b-hf", cls="AutoModelForCausalLM")),
        Valid(_load("target_modules=[n for n in ('q_proj', 'mlp') if n != 'mlp']", model="meta-llama/Llama-2-7b-hf",
                    cls="AutoModelForCausalLM")),
        # a version-guarded value
        Valid(_load("target_modules=['proj'] if NEW_PEFT else ['qkv']")
              .replace("from peft import", "import peft\nNEW_PEFT = peft.__version__ >= '0.14'\nfrom peft import"),
              **{"target-peft-version": ">=0.12"}),
        Valid(_load("target_modules=['mlp']", model="my-org/private-model", cls="AutoModelForCausalLM")),
        Valid(_load("target_modules=['mlp']", model="meta-llama/Llama-2-7b-hf", cls="AutoModelForCausalLM")
              .replace("from peft import LoraConfig, get_peft_model",
                       "from peft import get_peft_model\nfrom swift import LoraConfig")),
        # `c_attn` names nothing in OPT (LORA001); peft 0.1 would read the string as its
        # characters and reach every `self_attn`, but that is not this rule's finding
        Valid(_load("target_modules='c_attn'", model="facebook/opt-350m", cls="AutoModelForCausalLM"),
              **{"target-peft-version": "<0.10"}),
        # the layers selected hold no container named so
        Valid(_load("target_modules=['q_proj', 'v_proj'], layers_to_transform=[0, 1]",
                    model="meta-llama/Llama-2-7b-hf", cls="AutoModelForCausalLM")),
    ]
    INVALID = [
        Invalid(_load("target_modules=['q_proj', 'mlp']", model="meta-llama/Llama-2-7b-hf",
                      cls="AutoModelForCausalLM"),
                message="`mlp` matches `model.layers.0.mlp` (LlamaMLP) of meta-llama/Llama-2-7b-hf (LlamaForCausalLM), which peft cannot wrap", line=5, column=67),
        Invalid(_load("target_modules=['q_proj', 'input_layernorm']", model="meta-llama/Llama-2-7b-hf",
                      cls="AutoModelForCausalLM"),
                message="modules_to_save", line=5, column=67),
        # a regex reaching the decoder layers themselves
        Invalid(_load(r"target_modules=r'model\.layers\.\d+'", model="meta-llama/Llama-2-7b-hf",
                      cls="AutoModelForCausalLM"),
                message="name the layers inside it instead: q_proj, k_proj", line=5, column=56),
        # Qwen2-VL's patch embedding is a Conv3d: wrappable only from peft 0.14.0
        Invalid(_load("target_modules=['proj', 'q_proj']"),
                message="peft < 0.14.0 cannot wrap Conv3d", line=5, column=57, **{"target-peft-version": ">=0.12"}),
        # all-linear also adapts the vision tower (a warning)
        # before 0.15.0 all-linear became a list of names, and `proj` also names the Conv3d
        Invalid(_load("target_modules='all-linear'"), message="(`proj` among them), matches `visual.patch_embed.proj`",
                line=5, column=56, **{"target-peft-version": ">=0.13,<0.15"}),
        Invalid(_load("target_modules='all-linear'"),
                message=r"(.*\.)?language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
                line=5, column=56),
        Invalid(_load("target_modules=['q_proj', 'v_proj', 'fc1', 'fc2']", model="google/gemma-3-4b-it",
                      cls="Gemma3ForConditionalGeneration"),
                message="entries ['q_proj', 'v_proj', 'fc1', 'fc2'] also adapt 108 layers of the vision tower", line=5, column=57),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        keep = options(call, layers=True)
        if keep is None:
            return
        for found in matches(call, ctx):
            finding = self._unsupported(found, ctx, keep) or self._tower(call, found, ctx, keep)
            if finding is not None:
                yield finding
                return

    def _unsupported(self, found: Targets, ctx: RuleContext, keep: dict) -> Finding | None:
        """The first entry that reaches a module the lowest allowed peft cannot wrap, in every
        allowed transformers version; not one the newest allowed peft finds no module for."""
        low = lowest(ctx)
        results = [match_target_modules(found.value, arch, peft_version=low, **keep)
                   for arch in (found.model.architecture, *(a for a in found.model.others))]
        if any(r.error for r in results):
            return None
        bad = [_bad_entries(r, arch, low) for r, arch in zip(results, (found.model.architecture, *found.model.others))]
        unmatched = set(found.unmatched)  # LORA001/002 report those, judged by the newest peft
        for entry, (name, cls) in bad[0].items():
            if entry not in unmatched and all(entry in other for other in bad[1:]):
                return Finding(_node(found, entry), _message(found, entry, name, cls, ctx))
        return None

    def _tower(self, call: LoraCall, found: Targets, ctx: RuleContext, keep: dict) -> Finding | None:
        arch = found.model.architecture
        tower, language = _parts(arch)
        if not tower or not language:
            return None
        entries = _tower_entries(found, tower, language)
        if not entries:
            return None
        reached = sorted(n for n in found.result.targeted if _in(n, tower))
        if entries == [ALL_LINEAR]:
            what = "`all-linear` also adapts"
        else:
            entries = [e for e, names in found.result.matched.items() if any(n in reached for n in names)]
            what = f"target_modules entries {entries!r} also adapt"
        message = (f"{what} {len(reached)} layers of the vision tower of {model_words(call, found.model)} "
                   f"(`{reached[0]}`, ...) besides the language model")
        regex = _language_regex(found, language, ctx, keep)
        message += (f"; to keep to the language model use target_modules=r\"{regex}\"" if regex else
                    "; to keep to the language model, exclude the tower with exclude_modules")
        entry = entries[0]
        node = value_node(found.keyword) if entry == ALL_LINEAR else _node(found, entry)
        return Finding(node, message + "; name the tower's layers on purpose (or noqa) if it is meant to train",
                       severity="warning")


def _bad_entries(result: MatchResult, arch: Architecture, peft_version: str) -> dict[str, tuple[str, str]]:
    """Each entry that reaches a module ``peft_version`` cannot wrap -> (its first such name, kind)."""
    if not result.unsupported:
        return {}
    kind = {n: m.cls for m in arch.modules for n in m.names()}
    unsupported = set(result.unsupported)
    out = {}
    for entry, names in result.matched.items():
        hit = next((n for n in names if n in unsupported), None)
        if hit is not None:
            out[entry] = (hit, kind[hit])
    return out


def _message(found: Targets, entry: str, name: str, cls: str, ctx: RuleContext) -> str:
    arch = found.model.architecture
    since = peft_releases.layer_kind_since(cls)
    head = f"`{entry}` matches `{name}` ({cls}) of {model_words_short(found.model)}"
    if entry.lower() == ALL_LINEAR:
        head = (f"`{entry}`, which peft < 0.15.0 turns into the last name segments of the linear layers "
                f"(`{name.rsplit('.', 1)[-1]}` among them), matches `{name}` ({cls}) of {model_words_short(found.model)}")
    if since is not None:
        return (f"{head}; peft < {since} cannot wrap {cls}, and {allowed(ctx)}: get_peft_model raises "
                f"\"Target module ... is not supported\" there; require peft >= {since}, or narrow the entry")
    inner = sorted({n.rsplit(".", 1)[-1] for m in arch.modules if m.cls in peft_releases.layer_kinds(highest(ctx))
                    for n in m.names() if n.startswith(name + ".")}, key=_order(arch))
    text = (f"{head}, which peft cannot wrap: get_peft_model raises \"Target module ... is not supported\" "
            "after the model has loaded")
    if inner:
        return text + f"; name the layers inside it instead: {listing(inner)}"
    return text + "; to train it, list it in modules_to_save instead (it has no layer LoRA can adapt)"


def model_words_short(model: ModelInfo) -> str:
    return f"{model.name} ({model.architecture.class_name})"


def _order(arch: Architecture):
    """Leaf names in the order the model defines them."""
    first = {}
    for m in arch.modules:
        first.setdefault(m.leaf, len(first))
    return lambda leaf: first.get(leaf, len(first))


def _node(found: Targets, entry: str):
    return written_element(found.keyword, lambda v: v == entry) or value_node(found.keyword)


def _in(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _parts(arch: Architecture) -> tuple[set[str], set[str]]:
    """The vision tower's and the language model's module prefixes, when the language model
    is a decoder (it has ``embed_tokens``) beside a vision tower; else empty sets."""
    tower, language = set(), set()
    for name in arch.names():
        parts = name.split(".")
        for i, part in enumerate(parts):
            if part in _TOWER:
                tower.add(".".join(parts[:i + 1]))
                break
            if part in _LANGUAGE:
                language.add(".".join(parts[:i + 1]))
                break
    decoder = {p for p in language if any(n == f"{p}.embed_tokens" for n in arch.names())}
    return (tower, decoder) if decoder else (set(), set())


def _tower_entries(found: Targets, tower: set[str], language: set[str]) -> list[str]:
    """The entries reaching both the vision tower and the language model (``all-linear`` as one)."""
    matched = found.result.matched
    targeted = set(found.result.targeted)
    if isinstance(found.value, str):
        names = [n for n in matched.get(found.value, []) if n in targeted]
        both = any(_in(n, tower) for n in names) and any(_in(n, language) for n in names)
        return [ALL_LINEAR] if both and found.value.lower() == ALL_LINEAR else []
    return [e for e, names in matched.items()
            if any(_in(n, tower) and n in targeted for n in names) and any(_in(n, language) for n in names)]


def _language_regex(found: Targets, language: set[str], ctx: RuleContext, keep: dict) -> str | None:
    """A regex adapting exactly the language-model layers the value adapts now; None if the
    language model has several prefixes or the regex would adapt anything else."""
    if len(language) != 1:
        return None
    prefix = next(iter(language))
    kept = [n for n in found.result.targeted if _in(n, language)]
    leaves = list(dict.fromkeys(n.rsplit(".", 1)[-1] for n in found.model.architecture.names() if n in set(kept)))
    segment = prefix.rsplit(".", 1)[-1]
    regex = rf"(.*\.)?{re.escape(segment)}\..*\.({'|'.join(re.escape(leaf) for leaf in leaves)})"
    check = match_target_modules(regex, found.model.architecture, peft_version=highest(ctx), **keep)
    return regex if sorted(check.targeted) == sorted(kept) else None
