"""LORA104 adapter-config-incompatible: a saved adapter's key that an allowed peft cannot load."""
from __future__ import annotations

import json
from typing import Any, Iterator

import libcst as cst

from ..analysis import Keyword, LoraCall
from ..knowledge import peft_releases
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import allowed, keyword_node, remove_element

_UNKNOWN_DEFAULT = object()
# Keys that describe the file, not the adapter: loading without them changes nothing.
_METADATA = frozenset({"peft_version"})
# What loading without the key does to an adapter that was trained with it.
_EFFECTS = {
    "use_dora": "a DoRA adapter then loads as plain LoRA: its magnitude vectors are left out and the "
                "model's outputs silently differ from the trained adapter's",
    "lora_bias": "the trained LoRA bias is then left out of the adapter",
    "use_rslora": "the update is then scaled by lora_alpha/r instead of lora_alpha/sqrt(r)",
    "layer_replication": "the replicated layers are then not built, so their weights do not load",
    "trainable_token_indices": "the trained token embeddings are then left out",
    "target_parameters": "the adapted parameters are then not adapted at all",
    "exclude_modules": "the excluded modules are then adapted too",
}


def _config(**fields: Any) -> str:
    """An adapter_config.json as peft writes it (indent 2, sorted keys)."""
    base = {"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
            "target_modules": ["c_attn"], "task_type": "CAUSAL_LM"}
    return json.dumps({**base, **fields}, indent=2, sort_keys=True) + "\n"


def _without(text: str, key: str) -> str:
    """``text`` with its ``"key": ...,`` line taken out (what the fix does in peft's layout)."""
    return "".join(line for line in text.splitlines(True) if not line.startswith(f'  "{key}":'))


class AdapterConfigIncompatible(Rule):
    """A key of a saved ``adapter_config.json`` that an allowed peft release does not have.

    What: in an adapter's ``adapter_config.json``, a key that one of the peft releases the
    project allows (``target-peft-version``, its requirements, else the installed peft)
    does not know: ``use_dora``, ``layer_replication``, ``lora_bias``, ``exclude_modules``,
    ``eva_config``, ``trainable_token_indices``, ``target_parameters``, ... written by a newer
    peft, or a key no release known to lora-lint has. Severity follows what that peft does:
    up to 0.13.2, ``PeftConfig.from_pretrained`` (and so ``PeftModel.from_pretrained``) raises
    ``TypeError: unexpected keyword argument`` (error); from 0.14.0 it drops the key with a
    warning and loads the rest, which is harmless for a key at its default and silently
    changes the adapter otherwise (``use_dora: true`` loads a DoRA adapter as plain LoRA):
    a warning. Keys at their default under a lenient peft are not reported.
    Why: "an adapter saved by a newer peft" is the most repeated loading failure in peft's
    issue tracker; peft 0.14.0 made it a warning, which loads the adapter but may load it
    as something else than what was trained.
    Example: ``"lora_bias": false`` with ``peft==0.13.2`` -> loading raises ``TypeError``.
    Fix safety: safe: removes a key that holds its default, which every release reads the
    same way; a key with another value is left as it is (removing it would change the adapter).
    """

    CODE = "LORA104"
    NAME = "adapter-config-incompatible"
    SEVERITY = "error"
    SUMMARY = "A key of a saved adapter_config.json that an allowed peft release cannot load"
    TRIGGERS = ("LoraConfig",)
    SOURCES = ("adapter_config",)
    FIX = "safe"

    VALID = [
        Valid(_config(lora_bias=False, use_dora=False), filename="adapter_config.json",
              **{"target-peft-version": ">=0.14"}),
        # a lenient peft drops a key at its default: nothing changes
        Valid(_config(lora_bias=False), filename="adapter_config.json", **{"target-peft-version": "==0.14.0"}),
        Valid(_config(use_dora=True), filename="adapter_config.json", **{"target-peft-version": ">=0.9"}),
        # Python code: LORA101's
        Valid("from peft import LoraConfig\n\nLoraConfig(use_dora=True)\n", **{"target-peft-version": "==0.8.2"}),
    ]
    INVALID = [
        Invalid(_config(lora_bias=False), filename="adapter_config.json",
                message="peft 0.13.2 cannot load it", line=4, column=3,
                fixed=_without(_config(lora_bias=False), "lora_bias"), **{"target-peft-version": "==0.13.2"}),
        Invalid(_config(use_dora=True), filename="adapter_config.json",
                message="raises TypeError (unexpected keyword argument 'use_dora')", line=10, column=3,
                **{"target-peft-version": ">=0.8,<0.9"}),
        # a lenient peft drops a key that is not at its default: the adapter changes (a warning)
        Invalid(_config(target_parameters=["mlp.experts.gate_up_proj"]), filename="adapter_config.json",
                message="peft 0.14.0 to 0.16.0 drop it with only a warning", line=9, column=3,
                **{"target-peft-version": ">=0.14,<0.17"}),
        Invalid(_config(peft_version="0.18.0"), filename="adapter_config.json",
                message="it only records the peft that saved the file", line=5, column=3,
                fixed=_config(), **{"target-peft-version": "==0.13.2"}),
        Invalid(_config(use_dora=True, eva_config=None), filename="adapter_config.json",
                message="`eva_config` (added in peft 0.14.0)", line=3, column=3,
                fixed=_without(_config(use_dora=True, eva_config=None), "eva_config"),
                **{"target-peft-version": ">=0.13,<0.15"}),
        Invalid(_config(future_option=True), filename="adapter_config.json",
                message="`future_option` (no peft release known to lora-lint has it)", line=3, column=3,
                **{"target-peft-version": "==0.13.2"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        for keyword in call.keywords.values():
            finding = self._finding(call, keyword, ctx)
            if finding is not None:
                yield finding

    def _finding(self, call: LoraCall, keyword: Keyword, ctx: RuleContext) -> Finding | None:
        name = keyword.name
        lacking = [v for v in ctx.peft_versions if name not in peft_releases.lora_fields(v)]
        if not lacking:
            return None
        span = peft_releases.field_span(name)
        default = _default(name, span)
        at_default = name in _METADATA or (default is not _UNKNOWN_DEFAULT and keyword.known
                                            and keyword.value == default and type(keyword.value) is type(default))
        raising = [v for v in lacking if not peft_releases.drops_unknown_config_keys(v)]
        dropping = [v for v in lacking if peft_releases.drops_unknown_config_keys(v)]
        if not raising and (at_default or default is _UNKNOWN_DEFAULT):
            return None
        what = f"`{name}` (added in peft {span[0]})" if span else \
            f"`{name}` (no peft release known to lora-lint has it)"
        parts = []
        if raising:
            parts.append(f"{_versions(raising)} cannot load it: PeftModel.from_pretrained raises "
                         f"TypeError (unexpected keyword argument '{name}')")
        if dropping and not at_default:
            effect = _EFFECTS.get(name, "the adapter then loads without that setting")
            parts.append(f"{_versions(dropping)} drop{'s' if len(dropping) == 1 else ''} it with only a "
                         f"warning, so it loads as if `{name}` were {_shown(default)}: {effect}")
        message = f"this adapter_config.json sets {what}; of {allowed(ctx)}, " + "; ".join(parts)
        replacements = {}
        if at_default and isinstance(keyword.arg, cst.Arg) and keyword.arg in call.node.args:
            message += "; removing the key changes nothing (it holds the default)" if name not in _METADATA \
                else "; removing the key changes nothing (it only records the peft that saved the file)"
            replacements = remove_element(call.node, keyword.arg)
        return Finding(keyword_node(keyword), message, replacements, f"Remove `{name}` (its default)",
                       severity=None if raising else "warning")


def _default(name: str, span: tuple[str, str] | None) -> Any:
    """The key's default in the first release that has it (what a release without it does)."""
    if span is None:
        return _UNKNOWN_DEFAULT
    default = peft_releases.field_default(name, span[0])
    if isinstance(default, dict) and "expr" in default:
        return {"dict()": {}, "list()": []}.get(default["expr"], _UNKNOWN_DEFAULT)
    return default


def _shown(value: Any) -> str:
    return json.dumps(value) if value is not _UNKNOWN_DEFAULT else "unset"


def _versions(versions: list[str]) -> str:
    return f"peft {versions[0]}" if len(versions) == 1 else f"peft {versions[0]} to {versions[-1]}"
