"""LORA006 layers-out-of-range: ``layers_to_transform``/``layers_pattern`` that select no layer."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..knowledge.matching import layer_filter
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import highest, listing, value_node
from ._targets import matches, model_words

_SEED = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained({model!r})\n"
         "config = LoraConfig(target_modules=['q_proj', 'v_proj'], {layers})\n"
         "model = get_peft_model(model, config)\n")


class LayersOutOfRange(Rule):
    """``layers_to_transform`` indices the model does not have, or a ``layers_pattern`` that
    names none of its module lists.

    What: the model is known, ``target_modules`` is a list, and some ``layers_to_transform``
    index selects no module the entries match: the layer index peft reads from each name (the
    number after ``layers_pattern``, or after the first ``<list>.<n>.``) never takes that value
    in the checkpoint's own tree (Llama-2-7b has layers 0-31, Llama-2-70b 0-79). Or
    ``layers_pattern`` names no list those modules sit in (``"layer"`` where the list is
    ``layers``). The layer count is the checkpoint's, from its config, never the type's default.
    Why: peft skips such indices without a word, so fewer layers are adapted than the config
    says; when no index is left it raises only after the model is loaded.
    Example: ``layers_to_transform=[24, 28, 32, 36]`` on Llama-2-7b adapts layers 24 and 28 only.
    Fix safety: no fix: which layers were meant is the author's choice.
    """

    CODE = "LORA006"
    NAME = "layers-out-of-range"
    SEVERITY = "error"
    SUMMARY = "layers_to_transform or layers_pattern selects layers the model does not have"
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        Valid(_SEED.format(model="meta-llama/Llama-2-7b-hf", layers="layers_to_transform=[0, 31]")),
        # the 70b checkpoint has 80 layers, although the llama default config has 32
        Valid(_SEED.format(model="meta-llama/Llama-2-70b-hf", layers="layers_to_transform=[60, 79]")),
        Valid(_SEED.format(model="meta-llama/Llama-2-7b-hf",
                           layers="layers_to_transform=[3], layers_pattern='layers'")),
        Valid(_SEED.format(model="my-org/private-model", layers="layers_to_transform=[90]")),
        Valid(_SEED.format(model="meta-llama/Llama-2-7b-hf", layers="layers_to_transform=LAYERS")),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj'], layers_to_transform=[40])\n"),
    ]
    INVALID = [
        Invalid(_SEED.format(model="meta-llama/Llama-2-7b-hf", layers="layers_to_transform=[24, 28, 32, 36]"),
                message="[32, 36] select no layer of meta-llama/Llama-2-7b-hf", line=5, column=78),
        Invalid(_SEED.format(model="meta-llama/Llama-2-7b-hf", layers="layers_to_transform=32"),
                message="peft raises", line=5, column=78),
        Invalid(_SEED.format(model="gpt2", layers="layers_to_transform=[0], layers_pattern='layers'").replace(
            "'q_proj', 'v_proj'", "'c_attn'"),
                message="layers_pattern 'layers' names no module list", line=5, column=88),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        layers = call.get("layers_to_transform")
        if layers is None or not _indices(layers.value):
            return
        pattern = call.value("layers_pattern", {"layers_pattern": None})
        if not (pattern is None or isinstance(pattern, str) or
                (isinstance(pattern, (list, tuple)) and all(isinstance(p, str) for p in pattern))):
            return
        wanted = [layers.value] if isinstance(layers.value, int) else list(layers.value)
        for found in matches(call, ctx):
            if isinstance(found.value, str):
                continue  # a regex: peft refuses layers_to_transform with it (LORA004)
            names = [n for result in (found.result, *found.others) for n in result.targeted]
            if not names:
                continue
            version = highest(ctx)
            keep_any = layer_filter(sorted(_present(names)), pattern, version)
            if pattern and keep_any is not None and not any(keep_any(n) for n in names):
                lists = sorted({parts[k - 1] for n in names for k, parts in [(k, n.split(".")) for k in range(1, n.count(".") + 1)]
                                if parts[k].isdigit()})
                yield Finding(value_node(call.get("layers_pattern")),
                              f"layers_pattern {pattern!r} names no module list of {model_words(call, found.model)} "
                              f"that the target modules sit in (peft reads the layer index after it, so no "
                              f"layer is selected and peft raises); its lists: {listing(lists) or 'none'}")
                return
            missing = [i for i in wanted if not any(map(layer_filter(i, pattern, version), names))]
            if not missing:
                continue
            layer_count = found.model.architecture.num_layers
            count = f" ({layer_count} layers: 0-{layer_count - 1})" if layer_count else ""
            outcome = ("peft raises after loading the model, as no target module is left" if len(missing) == len(wanted)
                       else "peft skips them silently and adapts fewer layers than the config says")
            yield Finding(value_node(layers),
                          f"layers_to_transform {missing!r} select no layer of {model_words(call, found.model)}"
                          f"{count}; {outcome}")
            return


def _indices(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def _present(names: list[str]) -> set[int]:
    return {int(part) for n in names for part in n.split(".") if part.isdigit()}
