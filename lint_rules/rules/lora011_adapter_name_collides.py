"""LORA011 adapter-name-collides: an ``adapter_name`` that is part of peft's ``lora_`` key prefix."""
from __future__ import annotations

from typing import Any, Iterator

import libcst as cst

from ..analysis.calls import is_lora_config
from ..analysis.index import CallSite
from ..analysis.lifecycle import GET_PEFT, Lifecycle, PEFT_LOAD, AUTO_PEFT_LOAD, classify
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._training import lifecycle_of

PREFIX = "lora_"  # peft's key prefix of LoRA's parameters (lora_A, lora_B, lora_embedding_A, ...)

_SEED = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = get_peft_model(model, LoraConfig(task_type='CAUSAL_LM'), adapter_name={name!r})\n")
_LOAD = ("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\n"
         "base = AutoModelForCausalLM.from_pretrained('gpt2')\n"
         "model = PeftModel.from_pretrained(base, 'out/math', adapter_name={name!r})\n"
         "model.load_adapter('out/code', {second!r})\n")


class AdapterNameCollides(Rule):
    """An adapter name that is part of peft's ``lora_`` parameter prefix.

    What: a static ``adapter_name`` that is a substring of ``lora_`` (``"lora"``, ``"a"``, ``"or"``, ``"_"``)
    given to ``get_peft_model``/``PeftModel(...)``/``add_adapter`` with a peft ``LoraConfig``, or to
    ``PeftModel.from_pretrained``/``AutoPeftModel*.from_pretrained``/``load_adapter`` when the name holds
    ``"lora"`` (a loaded adapter's type is not known here; other methods have other prefixes). A name
    that merely contains the prefix (``"lora_math"``) is not a finding: it saves and reloads fine.
    Why: peft finds an adapter's weights in a state dict by its name and the method's prefix
    (``...q_proj.lora_A.<name>.weight``); a name inside the prefix matches keys of the prefix itself,
    and the renaming when saving and loading can miss the weights: they are reported missing and keep
    their fresh initialization (huggingface/peft#2699, where ``adapter_name="lora"`` lost the adapter
    between training and testing). peft warns ("Adapter name 'lora' should not be contained in the
    prefix 'lora_'. This may lead to reinitialization of the adapter weights during loading.").
    Example: ``get_peft_model(model, config, adapter_name="lora")`` -> ``adapter_name="math"``.
    Fix safety: no fix: the name is used elsewhere (``set_adapter``, saved folders).
    """

    CODE = "LORA011"
    NAME = "adapter-name-collides"
    SEVERITY = "warning"
    SUMMARY = "An adapter_name that is part of peft's lora_ key prefix"
    PER_FILE = True
    TRIGGERS = ("adapter_name", "load_adapter", "add_adapter", "PeftModel")

    VALID = [
        Valid(_SEED.format(name="math")),
        Valid(_SEED.format(name="lora_math")),
        Valid(_SEED.format(name="default")),
        Valid(_LOAD.format(name="math", second="code")),
        # a loaded adapter of unknown type: only names holding "lora" are judged
        Valid(_LOAD.format(name="a", second="code")),
        # not a LoraConfig
        Valid(_SEED.format(name="lora").replace("LoraConfig(task_type='CAUSAL_LM')", "IA3Config()")
              .replace("import LoraConfig", "import IA3Config")),
        Valid(_SEED.format(name="lora").replace("adapter_name='lora'", "adapter_name=args.name")),
    ]
    INVALID = [
        Invalid(_SEED.format(name="lora"), message="'lora'", line=5, column=79),
        Invalid(_SEED.format(name="a"), message="inside peft's key prefix 'lora_'", line=5),
        Invalid(_LOAD.format(name="math", second="lora"), message="load_adapter", line=6, column=32),
        Invalid(_LOAD.format(name="lora", second="code"), line=5),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        lc = lifecycle_of(calls, ctx)
        if lc is None:
            return
        for site in lc.index.calls:
            found = _named(lc, site)
            if found is None:
                continue
            expr, method, what = found
            name = lc.index.value_of(expr, site.scope, site.order)
            if not isinstance(name, str) or name not in PREFIX or method == "other" or (
                    method is None and "lora" not in name):
                continue
            yield Finding(expr, f"adapter name {name!r} given to {what} is inside peft's key prefix 'lora_': "
                                f"peft finds the adapter's weights by name and prefix, so saving and loading "
                                f"can miss them and leave the adapter freshly initialized (peft warns about such "
                                f"names); use a name that is not part of 'lora_', such as the task's name")


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
