"""A saved adapter's ``adapter_config.json`` (what ``PeftModel.save_pretrained`` writes).

A ``.json`` file is one when it is a JSON object whose ``peft_type`` is ``LORA`` (its name does
not matter); a folder walk picks files named ``adapter_config.json`` only, checkpoint folders
included. Every key becomes a keyword of the config (``base_model_name_or_path`` names the model
the targets are checked against); positions are the keys' and values' in the file. The values
are what the adapter's weights were trained with, so no fix changes one; a fix may remove an
entry (``json_members`` finds it in the text), and nothing else in the file changes.
A file named ``adapter_config.json`` that is not JSON is ``LORA000``; another ``.json`` file is
none of lora-lint's business.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..violation import Violation
from . import config_program, names
from .base import Checker, FixResult

if TYPE_CHECKING:
    from ..prefilter import Prefilter

KIND = "adapter_config"
noqa_rows = None  # JSON has no comments: per-file-ignores suppresses a finding here
SUFFIXES = names.SUFFIXES[KIND]
NAME = names.ADAPTER_CONFIG
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def walked(name: str) -> bool:
    return names.walked(KIND, name)


def worth_linting(text: str, prefilter: "Prefilter") -> bool:
    """Only a text that names ``peft_type`` can be one (a broken one too, mostly)."""
    return "peft_type" in text


@dataclass
class Member:
    """One ``"key": value`` of the top-level object: the key's span, the value's, each element's
    span when the value is an array, and the span that removes the member with its comma."""

    key: str
    key_at: tuple[int, int]
    value: Any
    at: tuple[int, int]
    items: list[tuple[int, int]] | None
    remove: tuple[int, int] = (0, 0)


def json_members(text: str) -> tuple[list[Member], tuple[int, int]]:
    """The members of the JSON object ``text`` holds, and the span of its opening brace.
    Raises ``ValueError`` for text that is not one JSON object."""
    data = json.loads(text)  # the whole text must be valid JSON (its own error message)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    pos = _skip(text, 0)
    brace = (pos, pos + 1)
    pos = _skip(text, pos + 1)
    members: list[Member] = []
    while text[pos] != "}":
        key, after = json.decoder.scanstring(text, pos + 1)
        key_at = (pos, after)
        pos = _skip(text, _skip(text, after) + 1)  # past ':'
        value, end = _DECODER.raw_decode(text, pos)
        items = _elements(text, pos) if text[pos] == "[" else None
        members.append(Member(key, key_at, value, (pos, end), items))
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    for number, member in enumerate(members):
        if number + 1 < len(members):
            member.remove = (member.key_at[0], members[number + 1].key_at[0])
        elif number > 0:
            member.remove = (members[number - 1].at[1], member.at[1])
        else:
            member.remove = (member.key_at[0], member.at[1])
    return members, brace


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()


def _elements(text: str, pos: int) -> list[tuple[int, int]]:
    spans = []
    pos = _skip(text, pos + 1)
    while text[pos] != "]":
        _, end = _DECODER.raw_decode(text, pos)
        spans.append((pos, end))
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return spans


def _reread(text: str) -> Any:
    return json.loads(config_program.without_bom(text))


def read(text: str) -> config_program.Document | None:
    """The document, or ``None`` when the text is not a LoRA adapter's config.
    Raises ``ValueError`` for text that is not JSON at all."""
    try:
        members, brace = json_members(config_program.without_bom(text))
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    kinds = [m.value for m in members if m.key == "peft_type"]
    if not kinds or kinds[-1] != "LORA":
        return None
    settings = [config_program.Setting(m.key, m.value, m.key_at, m.at, m.items, None, m.remove)
                for m in members]
    return config_program.Document(KIND, text, settings, brace, _reread)


def _document(checker: Checker, text: str, filename: str,
              relpath: str | None) -> tuple[config_program.Document | None, list[Violation]]:
    try:
        return read(text), []
    except (ValueError, IndexError) as exc:
        if filename.replace("\\", "/").rsplit("/", 1)[-1].lower() != NAME:
            return None, []  # some other JSON file
        message = str(exc).split("\n")[0] if isinstance(exc, json.JSONDecodeError) else "not a JSON object"
        return None, checker.invalid_file(filename, f"not a valid adapter config ({message})", relpath)


def lint(checker: Checker, text: str, filename: str, relpath: str | None) -> list[Violation]:
    return config_program.lint_text(checker, _document, text, filename, relpath)


def fix(checker: Checker, text: str, filename: str, relpath: str | None, *, unsafe: bool) -> FixResult:
    return config_program.fix_text(checker, _document, read, text, filename, relpath, unsafe=unsafe)
