"""LORA013 moe-experts-not-targeted: a mixture-of-experts model whose routed experts the config leaves frozen."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..knowledge import peft_releases
from ..knowledge.architectures import Architecture, Module
from ..knowledge.matching import ALL_LINEAR, MOE_REMAP, MatchResult, conversion, match_target_modules
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, highest, listing, lowest, newer, value_node
from ._examples import applied
from ._targets import Targets, matches, model_words, options

_EXPERTS = "experts"  # the routed experts' module; shared ones are ``shared_expert(s)``
_CONVERTING = "0.19.0"  # the first peft that maps target_modules onto fused expert weights

def _load(keywords: str, model: str = "Qwen/Qwen3-30B-A3B") -> str:
    return applied(keywords, model)


class MoeExpertsNotTargeted(Rule):
    """A mixture-of-experts model whose routed experts ``target_modules`` does not reach.

    What: the model is known and has routed experts (an ``experts`` module: a list of expert
    MLPs, or, in transformers 5, one module holding every expert's weights as fused
    parameters); the config adapts something but no expert, in every allowed transformers
    version, judged with the newest allowed peft: attention-only targets, Llama's
    ``gate_proj``/``up_proj``/``down_proj`` on Mixtral (whose experts are ``w1``/``w2``/``w3``),
    names that reach only shared experts or dense layers, ``all-linear`` where peft does not
    map it onto the fused weights (gpt-oss, Llama 4). Also: experts reached only by peft's
    mapping of ``target_modules`` onto fused weights (peft >= 0.19.0), while the allowed range
    has older releases. Not judged: ``target_parameters`` (it names the weights itself),
    dynamic values, an unknown model.
    Why: nothing fails. The adapter trains attention and shared layers while every routed
    expert stays frozen; tools even log that LoRA was enabled on the MoE layers
    (vllm-project/vllm#47088, unslothai/unsloth#6936, unslothai/unsloth#11014,
    huggingface/peft#3009, huggingface/peft#2527).
    Example: ``["q_proj", "v_proj"]`` on Qwen3-30B-A3B -> add ``gate_proj``, ``up_proj``,
    ``down_proj`` (peft >= 0.19.0 maps them onto the fused expert weights), or
    ``target_parameters=["mlp.experts.gate_up_proj", "mlp.experts.down_proj"]``.
    Fix safety: no fix: training the experts multiplies the adapter's size; it is a choice.
    """

    CODE = "LORA013"
    NAME = "moe-experts-not-targeted"
    SEVERITY = "warning"
    SUMMARY = "A mixture-of-experts model whose routed experts the config leaves frozen"
    CHECKS_IMPORTED = True
    TRIGGERS = ("LoraConfig", *APPLYING)
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS

    VALID = [
        # peft >= 0.19 maps the Llama-style names onto Qwen3-MoE's fused expert weights
        Valid(_load("target_modules=['q_proj', 'v_proj', 'gate_proj', 'up_proj', 'down_proj']")),
        Valid(_load("target_modules='all-linear'")),
        Valid(_load("target_modules=['q_proj', 'w1', 'w2', 'w3']", model="mistralai/Mixtral-8x7B-v0.1")),
        # the experts' weights named directly
        Valid(_load("target_modules=['q_proj'], target_parameters=['mlp.experts.gate_up_proj', 'mlp.experts.down_proj']")),
        # a dense model, an unknown model, dynamic values, another library's LoraConfig
        Valid(_load("target_modules=['q_proj', 'v_proj']", model="meta-llama/Llama-2-7b-hf")),
        Valid(_load("target_modules=['q_proj', 'v_proj']", model="my-org/private-moe")),
        Valid(_load("target_modules=TARGETS")),
        Valid(_load("target_modules=[f'{p}_proj' for p in ('q', 'v')]")),
        # a version-guarded value: which one runs is not known statically
        Valid(_load("target_modules=['q_proj', 'v_proj'] if OLD else ['q_proj', 'gate_proj', 'up_proj', 'down_proj']")),
        Valid(_load("target_modules=['q_proj', 'v_proj']").replace(
            "from peft import LoraConfig, get_peft_model", "from peft import get_peft_model\nfrom swift import LoraConfig")),
        # with transformers 4 each expert is a list of Linear layers, reached by name
        Valid(_load("target_modules=['q_proj', 'gate_proj', 'up_proj', 'down_proj']"),
              **{"target-peft-version": ">=0.10", "target-transformers-version": "==4.57.6"}),
    ]
    INVALID = [
        Invalid(_load("target_modules=['q_proj', 'v_proj']"),
                message="reach no routed expert of Qwen/Qwen3-30B-A3B", line=5, column=56),
        Invalid(_load("target_modules=['q_proj', 'v_proj']"),
                message="add 'gate_proj', 'up_proj', 'down_proj' to target_modules", line=5, column=56),
        # a regex reaching attention only
        Invalid(_load(r"target_modules=r'.*\.(q_proj|v_proj)'"), message="reach no routed expert", line=5, column=56),
        # Llama's MLP names on Mixtral: its experts are w1/w2/w3
        Invalid(_load("target_modules=['q_proj', 'gate_proj', 'up_proj', 'down_proj']",
                      model="mistralai/Mixtral-8x7B-v0.1"),
                message="add 'w1', 'w3', 'w2' to target_modules", line=5, column=56),
        # only the shared expert is reached
        Invalid(_load("target_modules=['shared_expert.gate_proj', 'shared_expert.up_proj', 'shared_expert.down_proj']",
                      model="Qwen/Qwen1.5-MoE-A2.7B"),
                message="adapts only the shared experts", line=5, column=56),
        # the experts are reached only through peft's mapping, which older allowed releases lack
        Invalid(_load("target_modules=['q_proj', 'gate_proj', 'up_proj', 'down_proj']"),
                message="only peft >= 0.19.0 maps", line=5, column=56, **{"target-peft-version": ">=0.17"}),
        Invalid(_load("target_modules=['q_proj', 'v_proj']"),
                message="target_parameters=['mlp.experts.gate_up_proj', 'mlp.experts.down_proj']", line=5, column=56,
                **{"target-peft-version": ">=0.17,<0.19"}),
        # transformers 4: the experts are Linear layers with their own names
        Invalid(_load("target_modules=['q_proj', 'v_proj']", model="mistralai/Mixtral-8x7B-v0.1"),
                message="add 'w1', 'w2', 'w3' to target_modules (the experts' own layers)", line=5, column=56,
                **{"target-peft-version": ">=0.10", "target-transformers-version": "==4.57.6"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        if call.get("target_parameters") is not None:
            return
        for found in matches(call, ctx):
            finding = self._finding(call, found, ctx)
            if finding is not None:
                yield finding
                return

    def _finding(self, call: LoraCall, found: Targets, ctx: RuleContext) -> Finding | None:
        archs = (found.model.architecture, *found.model.others)
        results = (found.result, *found.others)
        if not found.any_match or not all(_experts(arch) for arch in archs):
            return None
        if not any(_reached(r) for r in results):
            return Finding(value_node(found.keyword), self._frozen(call, found, ctx))
        low = lowest(ctx)
        if newer(_CONVERTING, low) and conversion(found.model.architecture, highest(ctx)):
            keep = options(call)
            before = match_target_modules(found.value, found.model.architecture, peft_version=low, **(keep or {}))
            if keep is not None and not before.error and not _reached(before) and _reached(found.result):
                return Finding(value_node(found.keyword), (
                    f"the routed experts of {model_words(call, found.model)} are fused parameters with transformers "
                    f"{found.model.architecture.transformers}, and only peft >= {_CONVERTING} maps target_modules "
                    f"onto them; {allowed(ctx)} includes older releases, where every expert stays frozen; "
                    f"require peft >= {_CONVERTING}" + _parameters_hint(found.model.architecture, low)))
        return None

    def _frozen(self, call: LoraCall, found: Targets, ctx: RuleContext) -> str:
        arch = found.model.architecture
        what = "`all-linear`" if isinstance(found.value, str) and found.value.lower() == ALL_LINEAR else (
            f"target_modules {found.value!r}")
        shared = sorted({n for n in found.result.targeted if "shared_expert" in n or "shared_experts" in n})
        adapted = "adapts only the shared experts and other layers" if shared else "adapts only non-expert layers"
        message = (f"{what} reach no routed expert of {model_words(call, found.model)}: it {adapted}, and every "
                   f"expert stays frozen (with transformers {arch.transformers} the experts are "
                   f"{_experts_words(arch)})")
        return message + "; " + _remedy(found, ctx)


def _experts(arch: Architecture) -> list[Module]:
    """The routed experts' modules that carry weights: Linear layers inside, or fused parameters."""
    return [m for m in arch.modules if _EXPERTS in m.pattern.split(".") and (m.targetable or m.params)]


def _reached(result: MatchResult) -> bool:
    names = [*result.targeted, *(p for params in result.parameters.values() for p in params)]
    return any(_EXPERTS in n.split(".") for n in names)


def _fused(arch: Architecture) -> list[Module]:
    return [m for m in _experts(arch) if m.params and not m.targetable]


def _experts_words(arch: Architecture) -> str:
    fused = _fused(arch)
    if fused:
        params = _weights(fused[0])
        return f"fused parameters of `{_tail(fused[0])}`: {listing(params)}"
    leaves = list(dict.fromkeys(m.leaf for m in _experts(arch) if m.targetable))
    return f"Linear layers named {listing(leaves)}"


def _weights(module: Module) -> list[str]:
    """The fused expert weights (biases left out), the input projection first."""
    return sorted((p for p in module.params if not p.endswith("_bias")), key=lambda p: (p.startswith("down"), p))


def _tail(module: Module) -> str:
    """The expert module's name from the block on (``mlp.experts``)."""
    parts = module.pattern.split(".")
    at = parts.index(_EXPERTS)
    return ".".join(parts[max(at - 1, 0):at + 1])


def _remedy(found: Targets, ctx: RuleContext) -> str:
    """What reaches the experts with the newest allowed peft: names peft maps or the experts'
    own Linear names (checked by matching them), else ``target_parameters``."""
    arch = found.model.architecture
    peft = highest(ctx)
    pattern = conversion(arch, peft)
    if pattern is not None:
        names = [old for old in dict.fromkeys(MOE_REMAP[pattern]) if old != "gate"]
        how = f"peft {peft} maps them onto the fused expert weights"
    else:
        names = list(dict.fromkeys(m.leaf for m in _experts(arch) if m.targetable))
        how = "the experts' own layers"
    if names and not isinstance(found.value, str):
        tried = match_target_modules([*found.value, *names], arch, peft_version=peft)
        if _reached(tried) and not tried.error:
            return f"add {listing(repr(n) for n in names)} to target_modules ({how})" + _parameters_hint(arch, peft)
    hint = _parameters_hint(arch, peft)
    return hint.removeprefix("; or ") if hint else "name the experts' layers in target_modules"


def _parameters_hint(arch: Architecture, peft: str) -> str:
    fused = _fused(arch)
    since = peft_releases.field_span("target_parameters")
    if not fused or since is None or newer(since[0], peft):
        return ""
    params = [f"{_tail(fused[0])}.{p}" for p in _weights(fused[0])]
    return f"; or set target_parameters={params!r} (peft >= {since[0]})"
