"""LORA201 alpha-ratio: ``lora_alpha`` is not the configured multiple of ``r``."""
from __future__ import annotations

import math
from typing import Any, Iterator

import libcst as cst

from ..analysis import UNKNOWN, LoraCall
from ..knowledge import peft_releases
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import add_keyword, fmt, literal_in_call, lowest, number, replacing, value_node

# Initialisations that set their own scale: their users do not follow alpha = ratio * r.
_OWN_CONVENTION = ("pissa", "corda", "eva", "olora")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


class AlphaRatio(Rule):
    """``lora_alpha`` differs from ``alpha-ratio`` x ``r`` (default 2).

    What: the statically known ``lora_alpha`` and ``r`` (explicit, or one of them omitted and
    then the default of the lowest allowed peft release: ``r=8, lora_alpha=8``) are off the
    ratio; likewise a key present in both ``rank_pattern`` and ``alpha_pattern``. Configs with
    ``use_rslora=True`` or a PiSSA/CorDA/EVA/OLoRA initialisation are skipped. A call that
    writes neither ``r`` nor ``lora_alpha`` (a bare ``LoraConfig()``: peft's own defaults) is
    not flagged unless option ``check-defaults = true``. Run over the trees of peft, trl,
    axolotl, LLaMA-Factory, ms-swift, unsloth and InternVL (5,004 files), the rule gave 513
    warnings: 89% on peft's defaults, 93% in tests, and 0 of 10 sampled at random were worth
    changing; ms-swift and axolotl failed the default ``fail-on`` on this rule alone. A user
    who never chose ``r`` has not chosen a ratio either, so those calls stay quiet by default.
    Why: peft scales the LoRA update by ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` with
    ``use_rslora``). Keeping ``lora_alpha = 2 * r`` keeps that scale fixed when ``r``
    changes, so a learning rate tuned once stays valid; an accidental ratio (a copied
    ``lora_alpha=16`` next to ``r=64``) silently shrinks or inflates the update.
    Example: ``LoraConfig(r=64, lora_alpha=16)`` (scale 0.25) -> ``lora_alpha=128``.
    Fix safety: unsafe: it changes training dynamics. Sets ``lora_alpha`` to ratio x r,
    adding the keyword when omitted. Option ``alpha-ratio`` sets the ratio.
    """

    CODE = "LORA201"
    NAME = "alpha-ratio"
    SEVERITY = "warning"
    SUMMARY = "lora_alpha is not alpha-ratio (default 2) times r"
    TRIGGERS = ("LoraConfig",)
    FIX = "unsafe"
    OPTIONS = {"alpha-ratio": 2, "check-defaults": False}

    VALID = [
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=8)\n", **{"alpha-ratio": 1}),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpha=16, use_rslora=True)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=16, lora_alpha=16, init_lora_weights='pissa_niter_4')\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=16, **options)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=args.r, lora_alpha=32)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, rank_pattern={'q': 4}, "
              "alpha_pattern={'q': 8})\n"),
        # neither r nor lora_alpha written: peft's defaults (r=8, lora_alpha=8), not the user's choice
        Valid("from peft import LoraConfig\n\nLoraConfig()\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn'], lora_dropout=0.05)\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn'])\n",
              **{"target-peft-version": "<0.4", "check-defaults": True}),
        Valid("from peft import LoraConfig\n\nLoraConfig(lora_rank=64, lora_alpha=128)  # LORA003: not r's default\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpah=128)  # LORA003: not lora_alpha's default\n"),
    ]
    INVALID = [
        # a misspelt keyword is read as the one it stands for (LORA003 renames it)
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpah=16)\n",
                message="lora_alpha/r = 0.25", line=3, column=29,
                fixed="from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpah=128)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpha=16)\n",
                message="lora_alpha/r = 0.25", line=3, column=29,
                fixed="from peft import LoraConfig\n\nLoraConfig(r=64, lora_alpha=128)\n"),
        Invalid("import peft\n\nR = 32\nconfig = peft.LoraConfig(\n    r=R,\n    target_modules=['q_proj'],\n)\n",
                message="lora_alpha is omitted", line=5, column=5,
                fixed="import peft\n\nR = 32\nconfig = peft.LoraConfig(\n    r=R,\n    lora_alpha=64,\n"
                      "    target_modules=['q_proj'],\n)\n"),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=32,  # rank\n"
                "    # attention only\n    target_modules=['q_proj']  # no trailing comma\n)\n",
                message="lora_alpha is omitted", line=4, column=5,
                fixed="from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=32,  # rank\n    lora_alpha=64,\n"
                      "    # attention only\n    target_modules=['q_proj']  # no trailing comma\n)\n"),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(\n    target_modules=['q_proj'],\n"
                "    r=32  # rank\n)\n",
                message="lora_alpha is omitted", line=5, column=5,
                fixed="from peft import LoraConfig\n\nconfig = LoraConfig(\n    target_modules=['q_proj'],\n"
                      "    r=32,  # rank\n    lora_alpha=64\n)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn'])\n",
                message="defaults", line=3, column=1, **{"check-defaults": True},
                fixed="from peft import LoraConfig\n\nLoraConfig(target_modules=['c_attn'], lora_alpha=16)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=16, lora_alpha=16)\n",
                message="lora_alpha = 4 x r", line=3, column=29, **{"alpha-ratio": 4},
                fixed="from peft import LoraConfig\n\nLoraConfig(r=16, lora_alpha=64)\n"),
        Invalid("from peft import LoraConfig\n\ndef build(r=16, alpha=16):\n"
                "    return LoraConfig(r=r, lora_alpha=alpha)\n\nconfig = build()\n",
                message="lora_alpha=16 with r=16", line=4, column=39),
        Invalid("from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, rank_pattern={'q_proj': 32},"
                " alpha_pattern={'q_proj': 16})\n", message="rank_pattern", line=3, column=86),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        version = lowest(ctx)
        defaults = {"use_rslora": False, "init_lora_weights": True,
                    **peft_releases.lora_fields(version)}
        rslora = call.value("use_rslora", defaults)
        init = call.value("init_lora_weights", defaults)
        if rslora is not False or init is UNKNOWN or (
                isinstance(init, str) and init.lower().startswith(_OWN_CONVENTION)):
            return
        ratio = ctx.option(self, "alpha-ratio")
        r, alpha = call.value("r", defaults), call.value("lora_alpha", defaults)
        chosen = call.get("r") is not None or call.get("lora_alpha") is not None
        # the advised value must be a number too: 2 x 1e308 is not
        if (chosen or ctx.option(self, "check-defaults") is True) and _number(r) and _number(alpha) \
                and _number(ratio * r) and not math.isclose(alpha, ratio * r):
            yield self._global(call, r, alpha, ratio, version)
        ranks, alphas = call.value("rank_pattern"), call.value("alpha_pattern")
        if isinstance(ranks, dict) and isinstance(alphas, dict):
            for key in ranks.keys() & alphas.keys():
                pr, pa = ranks[key], alphas[key]
                if _number(pr) and _number(pa) and _number(ratio * pr) and not math.isclose(pa, ratio * pr):
                    yield Finding(_pattern_node(call, key), (
                        f"rank_pattern gives {key!r} r={fmt(pr)} but alpha_pattern gives it "
                        f"lora_alpha={fmt(pa)}: its update is scaled by {pa / pr:g} instead of "
                        f"{fmt(ratio)}; set alpha_pattern[{key!r}] = {fmt(ratio * pr)}"))

    def _global(self, call: LoraCall, r: float, alpha: float, ratio: float, version: str) -> Finding:
        expected = ratio * r
        r_kw, alpha_kw = call.get("r"), call.get("lora_alpha")
        omitted = [name for name, kw in (("r", r_kw), ("lora_alpha", alpha_kw)) if kw is None]
        message = (f"lora_alpha={fmt(alpha)} with r={fmt(r)} scales the LoRA update by lora_alpha/r = "
                   f"{alpha / r:g} (lora_alpha/sqrt(r) only with use_rslora=True); the rule of thumb is lora_alpha = {fmt(ratio)} x r, which keeps the "
                   f"scale (and a tuned learning rate) stable when r changes: set lora_alpha={fmt(expected)}")
        if omitted:
            message += (f" ({' and '.join(omitted)} {'is' if len(omitted) == 1 else 'are'} omitted, so "
                        f"peft {version}'s defaults apply)")
        replacements: dict = {}
        if alpha_kw is not None:
            node = value_node(alpha_kw)
            if literal_in_call(alpha_kw):
                replacements = {alpha_kw.node: replacing(alpha_kw.node, number(expected))}
        else:
            node = call.node if r_kw is None else (r_kw.arg or r_kw.report_node)
            anchor = r_kw.arg if r_kw is not None and isinstance(r_kw.arg, cst.Arg) \
                and r_kw.arg in call.node.args else None
            if r_kw is None or anchor is not None:
                replacements = add_keyword(call.node, "lora_alpha", number(expected), anchor)
        return Finding(node, message, replacements, f"Set lora_alpha={fmt(expected)}")


def _pattern_node(call: LoraCall, key: str) -> cst.CSTNode:
    keyword = call.get("alpha_pattern")
    if keyword.arg is None:
        return keyword.report_node
    if isinstance(keyword.node, cst.Dict):
        for element in keyword.node.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) \
                    and element.key.evaluated_value == key:
                return element.value
    return keyword.node
