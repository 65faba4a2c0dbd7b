"""LORA102 value-too-new: an option value the lowest allowed peft release does not know."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..knowledge import peft_releases
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, lowest, needs_newer, newer, value_node


class ValueTooNew(Rule):
    """An ``init_lora_weights``/``bias``/``task_type`` value or ``target_modules="all-linear"``
    newer than the oldest peft the project allows.

    What: the value is first recognised by a release above the lowest allowed one (each
    ``init_lora_weights`` string from its own release, prefixes such as ``pissa_niter_<n>``
    included; ``"all-linear"`` from 0.8.0).
    Why: older releases accept the config and fail later or silently: before 0.8.0
    ``"all-linear"`` is an ordinary regex that matches no module (``get_peft_model``
    raises); before 0.7.0 any ``init_lora_weights`` string meant the default init, later
    an unknown one fails when the layers are built.
    Example: ``LoraConfig(init_lora_weights="pissa")`` with ``peft>=0.10`` (needs 0.11.0).
    Fix safety: no fix: raise the requirement's lower bound or guard the value with a
    runtime version check (guarded uses are not reported).
    """

    CODE = "LORA102"
    NAME = "value-too-new"
    SEVERITY = "error"
    SUMMARY = "An init_lora_weights option or target_modules='all-linear' newer than the allowed peft"
    TRIGGERS = ("LoraConfig",)

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules='all-linear')\n",
              **{"target-peft-version": ">=0.8.0"}),
        Valid("from peft import LoraConfig\n\nLoraConfig(init_lora_weights='gaussian')\n",
              **{"target-peft-version": ">=0.7"}),
        Valid("from peft import LoraConfig\n\nLoraConfig(init_lora_weights=METHOD)\n",
              **{"target-peft-version": ">=0.7"}),
        Valid("import peft\nfrom peft import LoraConfig\n\n"
              "init = 'pissa' if peft.__version__ >= '0.11' else 'gaussian'\n"
              "LoraConfig(init_lora_weights=init)\n", **{"target-peft-version": ">=0.7"}),
        Valid("import peft\nfrom peft import LoraConfig\n\nif peft.__version__ >= '0.11':\n"
              "    LoraConfig(init_lora_weights='pissa')\n", **{"target-peft-version": ">=0.7"}),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['all-linear'])\n",
              **{"target-peft-version": ">=0.5"}),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, target_modules='all-linear')\n",
                message="`target_modules=\"all-linear\"` needs peft >= 0.8.0", line=3, column=32,
                **{"target-peft-version": ">=0.6,<1"}),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, target_modules='ALL-LINEAR')\n",
                message="needs peft >= 0.8.0", line=3, column=32, **{"target-peft-version": ">=0.6,<1"}),
        Invalid("import peft\n\nconfig = peft.LoraConfig(\n    r=16,\n    init_lora_weights=\"pissa_niter_16\",\n)\n",
                message="needs peft >= 0.11.0", line=5, column=23, **{"target-peft-version": "==0.10.0"}),
        Invalid("from peft import LoraConfig\n\nINIT = 'olora'\ndef build(r=16):\n"
                "    return LoraConfig(r=r, init_lora_weights=INIT)\n",
                message="peft 0.11.1", line=5, column=46, **{"target-peft-version": "~=0.11.1"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        oldest = lowest(ctx)
        for name in peft_releases.OPTIONS:
            keyword = call.get(name)
            if keyword is None or not isinstance(keyword.value, str) or call.is_guarded(name):
                continue
            field = peft_releases.field_span(name)
            span = peft_releases.option_span(name, keyword.value)
            if span is None or field is None or newer(field[0], oldest) or not newer(span[0], oldest):
                continue
            consequence = ("treats every string as the default initialisation"
                           if name == "init_lora_weights" and peft_releases.accepts(name, keyword.value, oldest)
                           else "does not know it")
            yield Finding(value_node(keyword), (
                f"`{name}={keyword.value!r}` needs peft >= {span[0]}, but the project allows "
                f"{allowed(ctx)}, and peft {oldest} {consequence}; {needs_newer(ctx, span[0])}"))
        keyword = call.get("target_modules")
        since = peft_releases.all_linear_since()
        if (keyword is not None and isinstance(keyword.value, str) and newer(since, oldest)
                and peft_releases.is_all_linear(keyword.value, since)  # any case, as peft lowers it
                and not call.is_guarded("target_modules")):
            yield Finding(value_node(keyword), (
                f"`target_modules=\"all-linear\"` needs peft >= {since}, but the project allows "
                f"{allowed(ctx)}: in peft {oldest} it is an ordinary regex that matches no module "
                f"and get_peft_model() fails; require peft>={since} or list the module names"))
