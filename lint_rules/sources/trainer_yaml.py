"""axolotl and LLaMA-Factory YAML configs: the ``LoraConfig`` each framework builds from them.

A YAML file is one of them by its top-level keys, whatever its name: axolotl's has
``adapter: lora`` (or ``qlora``) and ``base_model``; LLaMA-Factory's has ``finetuning_type: lora``
and ``model_name_or_path``. Their keys are read as the framework passes them to peft
(``FRAMEWORKS``); what the framework decides itself at run time (axolotl's
``lora_target_linear``, LLaMA-Factory's ``lora_target: all``, a PiSSA init, an omitted rank) is
unknown to the rules, so nothing is said about it. Keys of the framework's own are never
judged (the framework checks them). A config that continues training a saved adapter
(LLaMA-Factory's ``adapter_name_or_path``, axolotl's ``lora_model_dir``) takes its LoRA settings
from that adapter's ``adapter_config.json`` and is left to it.

Positions are the keys' and values' in the YAML text (PyYAML's marks); a fix writes the new
value where the old one is written, in flow style (``[q_proj, v_proj]``, a comma-separated
string where the framework reads one), and nothing else changes. A YAML text that has one of
the marker keys but does not parse is ``LORA000``; any other YAML file is none of lora-lint's
business.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..violation import Violation
from . import config_program, names, yaml_comments
from .base import Checker, FixResult
from .config_program import UNKNOWN, Setting

if TYPE_CHECKING:
    import yaml

    from ..prefilter import Prefilter

KIND = "trainer_yaml"
SUFFIXES = names.SUFFIXES[KIND]
noqa_rows = yaml_comments.noqa_rows
_MARKER = re.compile(r"^(adapter|finetuning_type)[ \t]*:[ \t]*['\"]?q?lora\b", re.MULTILINE)
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")


def walked(name: str) -> bool:
    return names.walked(KIND, name)


def worth_linting(text: str, prefilter: "Prefilter") -> bool:
    """A top-level ``adapter: lora``/``qlora`` or ``finetuning_type: lora`` line."""
    return bool(_MARKER.search(text))


@dataclass
class _Entry:
    key: Any  # yaml.Node
    node: Any  # yaml.Node
    value: Any


@dataclass(frozen=True)
class _Key:
    """How one framework key reaches ``LoraConfig``: the field, and how its value is read."""

    field: str
    read: Callable[[Any], Any] = lambda value: value
    render: Callable[[Any], "str | None"] | None = None
    comma_list: bool = False


def _strings(value: Any) -> Any:
    """Names as axolotl passes them: a list, or one string (a regular expression to peft)."""
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    return None if value is None else UNKNOWN


def _comma_names(value: Any) -> Any:
    """LLaMA-Factory's comma-separated module names (``q_proj,v_proj``); ``all`` is every linear layer."""
    if not isinstance(value, str):
        return UNKNOWN if value is not None else None
    names = [name.strip() for name in value.split(",") if name.strip()]
    return UNKNOWN if not names or "all" in names else names


def _render_scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return repr(value)
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS else _quoted(value)
    if value is None:
        return "null"
    return None


_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _quoted(value: str) -> str:
    import json

    return json.dumps(value)


def _render_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return _render_scalar(value)
    parts = [_render_scalar(v) for v in value]
    return None if None in parts else "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]


def _render_comma(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and _PLAIN.fullmatch(v) for v in value):
        return ",".join(value)
    return None


FRAMEWORKS: dict[str, dict[str, _Key]] = {
    "axolotl": {
        "base_model": _Key("base_model_name_or_path"),
        "lora_r": _Key("r"),
        "lora_alpha": _Key("lora_alpha"),
        "lora_dropout": _Key("lora_dropout"),
        "lora_target_modules": _Key("target_modules", _strings, _render_list),
        "lora_target_parameters": _Key("target_parameters", _strings, _render_list),
        "lora_exclude_modules": _Key("exclude_modules", _strings, _render_list),
        "lora_modules_to_save": _Key("modules_to_save", _strings, _render_list),
        "peft_layers_to_transform": _Key("layers_to_transform"),
        "peft_layers_pattern": _Key("layers_pattern"),
        "peft_init_lora_weights": _Key("init_lora_weights"),
        "peft_use_dora": _Key("use_dora"),
        "peft_use_rslora": _Key("use_rslora"),
        "lora_rank_pattern": _Key("rank_pattern"),
        "lora_alpha_pattern": _Key("alpha_pattern"),
        "peft_layer_replication": _Key("layer_replication"),
        "peft_trainable_token_indices": _Key("trainable_token_indices"),
        "peft_ensure_weight_tying": _Key("ensure_weight_tying"),
        "lora_fan_in_fan_out": _Key("fan_in_fan_out"),
    },
    "llamafactory": {
        "model_name_or_path": _Key("base_model_name_or_path"),
        "lora_rank": _Key("r"),
        "lora_alpha": _Key("lora_alpha"),
        "lora_dropout": _Key("lora_dropout"),
        "lora_target": _Key("target_modules", _comma_names, _render_comma, comma_list=True),
        "additional_target": _Key("modules_to_save", _comma_names, _render_comma, comma_list=True),
        "use_dora": _Key("use_dora"),
        "use_rslora": _Key("use_rslora"),
    },
}
# The marker key and value, the model key, and the keys that hand the LoRA settings to a saved adapter.
_RECOGNISED = {"axolotl": ("adapter", ("lora", "qlora"), "base_model", ("lora_model_dir",)),
               "llamafactory": ("finetuning_type", ("lora",), "model_name_or_path", ("adapter_name_or_path",))}


def framework(data: dict) -> str | None:
    """Which framework's config the top-level mapping is, if any."""
    for name, (marker, values, model, _) in _RECOGNISED.items():
        if isinstance(data.get(marker), str) and data[marker].lower() in values and model in data:
            return name
    return None


def _load(text: str) -> tuple[Any, dict] | None:
    """The root mapping node and its data; ``None`` for YAML that is no mapping. Raises
    ``ValueError`` for text that is not YAML."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(config_program.without_bom(text))
    try:
        root = loader.get_single_node()
        if root is None or not isinstance(root, yaml.MappingNode):
            return None
        merged = any(key.tag == "tag:yaml.org,2002:merge" for key, _ in root.value)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).split("\n")[0]) from exc
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None
    if merged:  # keys merged in from an anchor (`<<: *base`) are written there, for every user of it
        data["<<"] = True
    return root, data


def _end(node: Any) -> int:
    """Where a value ends: a block collection's own end mark runs on over the comments and blank
    lines after it, so it ends where its last element does."""
    import yaml

    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _end(node.value[-1])
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _end(node.value[-1][1])
    return node.end_mark.index


def _span(node: Any) -> tuple[int, int]:
    return node.start_mark.index, _end(node)


def _comma_items(text: str, node: Any, names: Any) -> list[tuple[int, int]] | None:
    """Where each name of a plain comma-separated scalar is written."""
    import yaml

    if not isinstance(names, list) or not isinstance(node, yaml.ScalarNode) or node.style:
        return None
    start, end = _span(node)
    spans, pos = [], start
    for name in names:
        found = text.find(name, pos, end)
        if found < 0:
            return None
        spans.append((found, found + len(name)))
        pos = found + len(name)
    return spans


def read(text: str) -> config_program.Document | None:
    """The LoRA settings of an axolotl or LLaMA-Factory config; ``None`` for any other YAML.
    Raises ``ValueError`` for text that is not YAML."""
    import yaml

    loaded = _load(text)
    if loaded is None:
        return None
    root, data = loaded
    kind = framework(data)
    if kind is None:
        return None
    marker, _, _, handed_over = _RECOGNISED[kind]
    if any(data.get(key) for key in handed_over):
        return None
    shared = data.pop("<<", False)
    entries = {key.value: (key, node) for key, node in root.value
               if isinstance(key, yaml.ScalarNode) and isinstance(key.value, str)}
    anchor = _span(entries[marker][0])
    settings: list[Setting] = []
    for key, how in FRAMEWORKS[kind].items():
        if key not in entries or key not in data:
            continue
        key_node, node = entries[key]
        value = how.read(data[key])
        if value is None or (value in ([], "") and how.field != "target_modules"):
            continue  # what the framework leaves out (``x or None``, ``if cfg.x:``)
        items = None
        if how.comma_list:
            items = _comma_items(text, node, value)
        elif isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.ScalarNode) for n in node.value):
            items = [_span(n) for n in node.value]
        # a value written elsewhere (an alias `*name`, a merged key) is not rewritten here
        elsewhere = shared or node.start_mark.index < key_node.end_mark.index
        settings.append(Setting(how.field, value, _span(key_node), _span(node), items,
                                None if elsewhere else how.render or _render_list))
    added = added_tokens(kind, data)
    derived = _derived(kind, data, {s.name for s in settings}, anchor, added)
    replaced = {s.name for s in derived}
    settings = [s for s in settings if s.name not in replaced] + derived
    return config_program.Document(kind, text, settings, anchor, _reread, model_key=_RECOGNISED[kind][2],
                                   comments=yaml_comments.comments, added_tokens=added)


def added_tokens(kind: str, data: dict) -> tuple[str, ...]:
    """The keys that add tokens to the tokenizer, so that the framework resizes the embeddings.

    axolotl (``loaders/tokenizer.py``, ``load_tokenizer``): ``tokens`` (``tokenizer.add_tokens``)
    and ``special_tokens.additional_special_tokens``; its other ``special_tokens`` entries mostly
    name tokens the tokenizer has, and are not counted. LLaMA-Factory (``model/patcher.py``,
    ``patch_tokenizer``; ``model/loader.py`` before 0.9.3): ``add_tokens``, ``add_special_tokens``,
    ``new_special_tokens`` (their names before 0.9.3), ``new_special_tokens_config``, and
    ``resize_vocab: true`` itself, unless ``quantization_bit`` is set (LLaMA-Factory then refuses it:
    ``_verify_model_args`` in ``hparams/parser.py``, "Cannot resize embedding layers of a quantized model")."""
    if kind == "axolotl":
        special = data.get("special_tokens")
        found = ["tokens"] if isinstance(data.get("tokens"), list) and data["tokens"] else []
        if isinstance(special, dict) and isinstance(special.get("additional_special_tokens"), list) \
                and special["additional_special_tokens"]:
            found.append("special_tokens.additional_special_tokens")
        return tuple(found)
    keys = ("add_tokens", "add_special_tokens", "new_special_tokens", "new_special_tokens_config")
    resized = data.get("resize_vocab") is True and data.get("quantization_bit") is None
    named = tuple(key for key in keys if isinstance(data.get(key), str) and data[key].strip())  # str fields
    return named + (("resize_vocab",) if resized else ())


def _derived(kind: str, data: dict, written: set[str], anchor: tuple[int, int],
             added: tuple[str, ...]) -> list[Setting]:
    """What the framework passes to peft that the file does not say."""
    found: list[Setting] = []
    if kind == "axolotl":
        for name in ("r", "lora_alpha", "lora_dropout"):  # axolotl's own defaults
            if name not in written:
                found.append(Setting(name, UNKNOWN, anchor))
        if data.get("lora_target_linear"):
            found.append(Setting("target_modules", UNKNOWN, anchor))  # every linear layer is added
        peft = data.get("peft")
        if isinstance(peft, dict) and isinstance(peft.get("loftq_config"), dict) \
                and peft["loftq_config"].get("loftq_bits"):
            found.append(Setting("init_lora_weights", UNKNOWN, anchor))  # LoftQ
    else:
        rank = data.get("lora_rank", 8)  # LLaMA-Factory's defaults: rank 8, alpha twice the rank
        if "r" not in written:
            found.append(Setting("r", rank, anchor))
        if not data.get("lora_alpha"):
            alpha = rank * 2 if isinstance(rank, int) and not isinstance(rank, bool) else UNKNOWN
            found.append(Setting("lora_alpha", alpha, anchor))
        if data.get("pissa_init") or data.get("pissa_convert"):
            found.append(Setting("init_lora_weights", UNKNOWN, anchor))
        if data.get("use_llama_pro"):
            found.append(Setting("target_modules", UNKNOWN, anchor))  # the expanded blocks' names
        if added and "modules_to_save" not in written:
            # the vocabulary is resized and no additional_target given: LLaMA-Factory saves the input and
            # output embeddings itself (model/adapter.py, _setup_lora_tuning: "Vocab has been resized")
            found.append(Setting("modules_to_save", UNKNOWN, anchor))
    return found


def _reread(text: str) -> Any:
    if _load(text) is None:
        raise ValueError("no longer a YAML mapping")


def _document(checker: Checker, text: str, filename: str,
              relpath: str | None) -> tuple[config_program.Document | None, list[Violation]]:
    if not _MARKER.search(text):
        return None, []
    try:
        return read(text), []
    except ValueError as exc:
        return None, checker.invalid_file(filename, f"not valid YAML ({exc})", relpath)


def lint(checker: Checker, text: str, filename: str, relpath: str | None) -> list[Violation]:
    return config_program.lint_text(checker, _document, text, filename, relpath)


def fix(checker: Checker, text: str, filename: str, relpath: str | None, *, unsafe: bool) -> FixResult:
    return config_program.fix_text(checker, _document, read, text, filename, relpath, unsafe=unsafe)
