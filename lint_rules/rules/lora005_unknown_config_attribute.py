"""LORA005 unknown-config-attribute: ``config.rank`` on a name that holds a peft LoraConfig."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..analysis.index import AttributeSite
from ..knowledge import peft_releases
from ..knowledge.misspellings import candidates
from ..rule import Finding, Invalid, Rule, RuleContext, Valid


class UnknownConfigAttribute(Rule):
    """An attribute a ``LoraConfig`` does not have, read or set on a variable that holds one.

    What: ``config.rank`` or ``config.alpha = 32`` where ``config`` holds a peft
    ``LoraConfig`` on every path to that line (the file's assignments are followed through
    names, helper functions and conditionals) and no allowed peft release gives the
    instance that attribute: not a field, method, property (``to_dict``,
    ``save_pretrained``, ``from_pretrained``, ``is_prompt_learning``) or attribute peft sets
    on it. Names starting with ``_`` (``__dict__``) are never judged. Not reported: a
    name that may hold something else on some path, a parameter, a config made in another
    module, another library's ``LoraConfig``, a use behind a runtime version check, a
    ``hasattr`` probe or a ``try`` that catches ``AttributeError``, and a read of an
    attribute the file itself sets on that name.
    Why: reading raises ``AttributeError``, typically after the model has been loaded;
    setting one is valid Python (a dataclass instance takes any attribute) and raises
    nothing, but peft's LoRA code never reads it and ``to_dict()``/``save_pretrained()``
    leave it out: ``config.alpha = 32`` leaves ``lora_alpha`` as it was, silently.
    Example: ``config.rank`` -> ``config.r``; ``config.dropout = 0.1`` -> ``config.lora_dropout``.
    Fix safety: no fix: a rename changes what the program does (the write starts to count).
    """

    CODE = "LORA005"
    NAME = "unknown-config-attribute"
    SEVERITY = "error"
    SUMMARY = "An attribute LoraConfig does not have, read (AttributeError) or set (ignored) on a config"
    TRIGGERS = ("LoraConfig",)

    VALID = [
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\nconfig.lora_alpha = 32\n"
              "print(config.r, config.to_dict(), config.is_prompt_learning, config.__dict__)\n"
              "config.save_pretrained('out')\n"),
        # a name that may hold something else on some path
        Valid("import sys\nfrom peft import LoraConfig, LoHaConfig\n\n"
              "config = LoraConfig(r=8) if sys.argv[1] == 'lora' else LoHaConfig(r=8)\nprint(config.alpha)\n"),
        # a parameter: any caller's object
        Valid("from peft import LoraConfig\n\ndef describe(config):\n    return config.rank\n\n"
              "describe(LoraConfig(r=8))\n"),
        # a version probe, and a try that handles the AttributeError
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n"
              "if hasattr(config, 'use_dora'):\n    print(config.use_dora)\n",
              **{"target-peft-version": ">=0.8"}),
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n"
              "try:\n    rank = config.rank\nexcept AttributeError:\n    rank = config.r\n"),
        # another library's LoraConfig, or a subclass that adds the attribute
        Valid("from mylib import LoraConfig\n\nconfig = LoraConfig(rank=8)\nprint(config.rank)\n"),
        Valid("from dataclasses import dataclass\nimport peft\n\n@dataclass\nclass Mine(peft.LoraConfig):\n"
              "    rank: int = 8\n\nconfig = Mine()\nprint(config.rank)\n"),
        # rebound to something else before the use
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\nconfig = config.to_dict()\n"
              "print(config.items())\n"),
        # a loop variable, and a `del` (nothing is read or set)
        Valid("from peft import LoraConfig\n\nfor config in (LoraConfig(r=4), LoraConfig(r=8)):\n"
              "    print(config.rank)\n"),
        # an attribute the file sets itself is there when it is read (the write is the finding)
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n"
              "setattr(config, name, value)\nprint(config.note)\n"),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\nprint(config.rank)\n",
                message="reading it raises AttributeError (the rank is `r`); did you mean `config.r`?", line=4, column=14),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8, lora_alpha=16)\nconfig.alpha = 32\n",
                message="Python sets it on this instance without an error, but peft's LoRA code never reads it",
                line=4, column=8),
        Invalid("import peft\n\ndef make():\n    return peft.LoraConfig(r=8)\n\n"
                "lora_config = make()\nlora_config.dropout = 0.1\n",
                message="`lora_dropout` keeps its value", line=7, column=13),
        # a config on every path, whichever branch made it
        Invalid("import sys\nfrom peft import LoraConfig\n\nif sys.argv[1:]:\n    config = LoraConfig(r=4)\n"
                "else:\n    config = LoraConfig(r=8)\nprint(config.lora_rank)\n",
                message="did you mean `config.r`?", line=8, column=14),
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\nalias = config\n"
                "if alias.use_dora:\n    pass\n",
                message="in peft 0.8.0 to 0.8.2, reading it raises AttributeError (peft 0.9.0 has it)",
                **{"target-peft-version": ">=0.8,<0.10"}),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        for site in call.attributes:
            attribute = site.node.attr.value
            if attribute.startswith("_") or site.guarded or site.probed or (site.set_here and not site.write):
                continue
            missing = _missing(attribute, ctx)
            if missing:
                yield Finding(site.node.attr, _message(site, attribute, missing, ctx))


def _missing(attribute: str, ctx: RuleContext) -> list[str]:
    """The allowed releases whose LoraConfig lacks the attribute; empty when one cannot tell."""
    missing = []
    for version in ctx.peft_versions:
        names = peft_releases.config_attributes(version)
        if names is None:
            return []
        if attribute not in names:
            missing.append(version)
    return missing


def _message(site: AttributeSite, attribute: str, missing: list[str], ctx: RuleContext) -> str:
    where = _versions(missing)
    having = [v for v in ctx.peft_versions if v not in missing]
    meant, hint = candidates(attribute, peft_releases.all_field_names())
    if site.write:
        text = (f"`{site.name}.{attribute} = ...` sets an attribute LoraConfig does not have: in {where}, Python "
                f"sets it on this instance without an error, but peft's LoRA code never reads it and "
                f"to_dict()/save_pretrained() leave it out")
        if len(meant) == 1:
            text += f"; `{meant[0]}` keeps its value"
    else:
        text = f"`{site.name}.{attribute}`: LoraConfig has no attribute `{attribute}`; in {where}, reading it raises AttributeError"
    if having:
        text += f" ({_versions(having)} {'has' if len(having) == 1 else 'have'} it)"
    if hint:
        text += f" ({hint})"
    if len(meant) == 1:
        text += f"; did you mean `{site.name}.{meant[0]}`?"
    return text


def _versions(versions: list[str]) -> str:
    return f"peft {versions[0]}" if len(versions) == 1 else f"peft {versions[0]} to {versions[-1]}"
