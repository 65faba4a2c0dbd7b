"""LORA011 adapter-name-collides: an ``adapter_name`` that is part of peft's ``lora_`` key prefix."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst
from packaging.version import Version

from ..analysis.calls import is_lora_config
from ..analysis.index import CallSite
from ..analysis.lifecycle import (AUTO_PEFT_CLASSES, AUTO_PEFT_LOAD, GET_PEFT, PEFT_LOAD, PEFT_MODEL_CLASSES,
                                  Lifecycle, classify)
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import lifecycle_of

PREFIX = "lora_"  # peft's key prefix of LoRA's parameters (lora_A, lora_B, lora_embedding_A, ...)
SAVED_WHOLE_SINCE = "0.18.0"  # removes the adapter name only at its place in a saved key (huggingface/peft#2773)
_OLD = {"target-peft-version": ">=0.10,<0.18"}
_MODULES = {"a": " (GPT-2's 'attn', BERT's 'attention')", "o": " (Llama's 'o_proj')"}  # modules that name hits

_SEED = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = get_peft_model(model, LoraConfig(task_type='CAUSAL_LM'), adapter_name={name!r})\n")
_LOAD = ("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\n"
         "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = PeftModel.from_pretrained(base, 'out/math', adapter_name={name!r})\n"
         "model.load_adapter('out/code', {second!r})\n")


class AdapterNameCollides(Rule):
    """An adapter name that is part of peft's ``lora_`` parameter prefix, where the allowed peft loses it.

    What: a static ``adapter_name`` that is a substring of ``lora_`` (``"lora"``, ``"a"``, ``"o"``, ``"_"``)
    given to ``get_peft_model``/``PeftModel(...)``/``add_adapter`` with a peft ``LoraConfig``, or to
    ``PeftModel.from_pretrained``/``AutoPeftModel*.from_pretrained``/``load_adapter`` when the name holds
    ``"lora"`` (a loaded adapter's type is not known here; other methods have other prefixes); only where
    the project allows a peft older than 0.18.0. A name that merely contains the prefix (``"lora_math"``)
    is not a finding: it saves and reloads fine.
    Why: peft 0.3.0 to 0.17.1 remove the adapter name from each saved key with
    ``key.replace(f".{adapter_name}", "")``, wherever ``.<name>`` occurs in the key. For a name that
    starts ``lora_`` (``"l"`` to ``"lora_"``) that is every LoRA key: ``q_proj.lora_A.lora.weight`` is
    saved as ``q_proj_A.weight``, loading finds none of the adapter's weights ("Found missing adapter
    keys") and leaves it at its initialization, so the reloaded model is the base model (an error).
    Another part of the prefix mangles the keys of modules whose name starts with it (``"a"``: GPT-2's
    ``h.0.attn.c_attn`` is saved as ``h.0ttn.c_attn``; ``"o"``: Llama's ``o_proj``), and those weights
    are lost the same way (a warning). An adapter loaded under such a name works until it is saved
    again. Shown with a save/reload round trip of a tiny Llama and GPT-2 under every minor release from
    0.4.0 to 0.21.2: ``"lora"`` is lost on both models up to 0.17.1, ``"a"`` on GPT-2 only, and nothing
    from 0.18.0 on, which removes the name only at its place in the key (huggingface/peft#2773). peft
    0.14.0 and later warn about such names ("Adapter name lora should not be contained in the prefix
    lora_"). The mistake in practice: huggingface/peft#2699 (``adapter_name="lora"``, the adapter
    missing when tested), #2252.
    Example: ``get_peft_model(model, config, adapter_name="lora")`` -> ``adapter_name="math"``.
    Fix safety: no fix: the name is used elsewhere (``set_adapter``, saved folders).
    """

    CODE = "LORA011"
    NAME = "adapter-name-collides"
    SEVERITY = "error"
    SUMMARY = "An adapter_name inside peft's lora_ key prefix, which peft < 0.18 loses when saving"
    PER_FILE = True
    # the calls it reads an adapter name from (``adapter_name=`` passed to anything else names nothing it checks)
    TRIGGERS = ("get_peft_model", *sorted(PEFT_MODEL_CLASSES), *sorted(AUTO_PEFT_CLASSES), "load_adapter", "add_adapter")

    VALID = [
        Valid(_SEED.format(name="math"), **_OLD),
        Valid(_SEED.format(name="lora_math"), **_OLD),
        Valid(_SEED.format(name="default"), **_OLD),
        Valid(_LOAD.format(name="math", second="code"), **_OLD),
        # a loaded adapter of unknown type: only names holding "lora" are judged
        Valid(_LOAD.format(name="a", second="code"), **_OLD),
        # not a LoraConfig
        Valid(_SEED.format(name="lora").replace("LoraConfig(task_type='CAUSAL_LM')", "IA3Config()")
              .replace("import LoraConfig", "import IA3Config"), **_OLD),
        Valid(_SEED.format(name="lora").replace("adapter_name='lora'", "adapter_name=args.name"), **_OLD),
        # peft 0.18.0 and later save and reload these names (peft only warns)
        Valid(_SEED.format(name="lora"), **{"target-peft-version": ">=0.18"}),
        Valid(_SEED.format(name="a"), **{"target-peft-version": "0.21.2"}),
    ]
    INVALID = [
        Invalid(_SEED.format(name="lora"), message="the reloaded model is the base model", line=5, column=79,
                **_OLD),
        Invalid(_SEED.format(name="a"), message="whose name starts with 'a'", line=5, **_OLD),
        Invalid(_LOAD.format(name="math", second="lora"), message="saved again", line=6, column=32, **_OLD),
        Invalid(_LOAD.format(name="lora", second="code"), line=5, **_OLD),
        # a range that reaches a release before 0.18.0
        Invalid(_SEED.format(name="lora"), message="peft 0.17.0 to 0.17.1", **{"target-peft-version": ">=0.17"}),
    ]

    @classmethod
    def reports_under(cls, ctx: RuleContext) -> bool:
        return bool(_lossy(ctx))

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lossy = _lossy(ctx)
        lc = lifecycle_of(calls, ctx) if lossy else None
        if lc is None:
            return
        releases = f"peft {lossy[0]}" if len(lossy) == 1 else f"peft {lossy[0]} to {lossy[-1]}"
        for site in lc.index.calls:
            found = _named(lc, site)
            if found is None:
                continue
            expr, method, what = found
            name = lc.index.value_of(expr, site.scope, site.order)
            if not isinstance(name, str) or name not in PREFIX or method == "other" or (
                    method is None and "lora" not in name):
                continue
            start = (f"adapter name {name!r} given to {what} is inside peft's key prefix 'lora_': {releases}, "
                     f"which the project allows, remove the adapter name wherever '.{name}' occurs in a saved key")
            end = (f"(fixed in peft 0.18.0); use a name that is not part of 'lora_', such as the task's name")
            if method is None:
                yield Finding(expr, f"{start}, so this adapter works as loaded but loses its weights when it is "
                                    f"saved again: reloaded, it is left at its initialization {end}",
                              severity="warning")
            elif PREFIX.startswith(name):
                yield Finding(expr, f"{start}: every LoRA key ('q_proj.lora_A.{name}.weight' is saved as "
                                    f"'q_proj{'.lora_A'.replace('.' + name, '', 1)}.weight'), so loading the saved "
                                    f"adapter finds none of its weights and leaves it at its initialization: the "
                                    f"reloaded model is the base model {end}")
            else:
                example = _MODULES.get(name, "")
                yield Finding(expr, f"{start}: the keys of any module whose name starts with {name!r}{example} are "
                                    f"renamed, and those weights are not loaded back {end}", severity="warning")


def _lossy(ctx: RuleContext) -> list[str]:
    """The allowed peft releases that lose such a name from the saved keys (before 0.18.0)."""
    return [v for v in ctx.peft_versions if Version(v) < Version(SAVED_WHOLE_SINCE)]


def _named(lc: Lifecycle, site: CallSite) -> tuple[cst.BaseExpression, str | None, str] | None:
    """The adapter-name expression of a call that names an adapter, whether the adapter is known
    to be LoRA (``"lora"``, ``"other"``, None: unknown), and the call's name for the message."""
    node = site.node
    keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    positional = [a.value for a in node.args if a.keyword is None and not a.star]
    kind, _ = classify(lc.index, node, site.scope)
    if kind == GET_PEFT:
        expr = keywords.get("adapter_name", positional[2] if len(positional) > 2 else None)
        config = positional[1] if len(positional) > 1 else keywords.get("peft_config")
        what = "get_peft_model()" if _name(node) == "get_peft_model" else f"{_name(node)}()"
        return (expr, _is_lora(lc, config, site), what) if expr is not None else None
    if kind in (PEFT_LOAD, AUTO_PEFT_LOAD):
        expr = keywords.get("adapter_name", positional[2] if kind == PEFT_LOAD and len(positional) > 2 else None)
        return (expr, None, "from_pretrained()") if expr is not None else None
    func = node.func
    if not isinstance(func, cst.Attribute) or lc.index.qualname(func.value, site.scope):
        return None
    if func.attr.value == "load_adapter":
        expr = keywords.get("adapter_name", positional[1] if len(positional) > 1 else None)
        return (expr, None, "load_adapter()") if expr is not None else None
    if func.attr.value == "add_adapter":  # peft: (adapter_name, peft_config); transformers: (adapter_config, adapter_name)
        config = keywords.get("peft_config", keywords.get("adapter_config"))
        expr = keywords.get("adapter_name")
        if expr is None and positional:
            first = lc.index.value_of(positional[0], site.scope, site.order)
            if isinstance(first, str):
                expr = positional[0]
                config = config or (positional[1] if len(positional) > 1 else None)
            elif len(positional) > 1:
                expr, config = positional[1], positional[0]
        elif config is None and positional:
            config = positional[0]
        return (expr, _is_lora(lc, config, site), "add_adapter()") if expr is not None else None
    return None


def _name(node: cst.Call) -> str:
    func = node.func
    return func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")


def _is_lora(lc: Lifecycle, config: cst.BaseExpression | None, site: CallSite) -> str | None:
    """``"lora"`` when ``config`` is a peft ``LoraConfig(...)`` on every path, ``"other"`` when it is
    another peft config class on every path, else None."""
    if config is None:
        return None
    kinds = {_config_kind(o) for o in lc.tracer.origins(config, site)}
    return kinds.pop() if len(kinds) == 1 else None


def _config_kind(origin: Any) -> str | None:
    node = origin.node
    if not isinstance(node, cst.Call):
        return None
    other = origin.index.site_of(node)
    if other is not None and is_lora_config(origin.index, other):
        return "lora"
    qualname = origin.index.qualname(node.func, origin.at.scope) or ""
    return "other" if qualname.startswith("peft.") and qualname.endswith("Config") else None
