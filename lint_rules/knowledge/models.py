"""Which model a Hugging Face id or local path names, found without the network.

``resolve_model`` looks, in order, at a local directory's ``config.json``, the
Hugging Face hub cache, the curated table in ``data/models.json``, and finally a
name heuristic whose answer is marked as a guess. Standard library only.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import consulted
from ..reading import CONFIG_LIMIT, read_text

TASKS = ("causal_lm", "seq2seq_lm", "masked_lm", "sequence_classification", "base")

_ENCODER_TYPES = frozenset(
    {"bert", "roberta", "distilbert", "albert", "electra", "deberta", "deberta-v2",
     "xlm-roberta", "camembert", "mpnet", "modernbert"}
)
_SEQ2SEQ_TYPES = frozenset(
    {"t5", "mt5", "umt5", "longt5", "bart", "mbart", "pegasus", "marian", "led",
     "blenderbot", "prophetnet", "switch_transformers", "whisper"}
)

# (pattern searched in the lower-cased name, model_type); the first match wins, so a
# more specific name comes before any name it contains (mixtral before mistral). Short
# words must start a word ("dolphin" is not phi).
_GUESSES: tuple[tuple[str, str], ...] = (
    (r"mixtral", "mixtral"),
    (r"mistral|zephyr", "mistral"),
    (r"qwen-?3", "qwen3"),
    (r"qwen", "qwen2"),
    (r"gemma-?3", "gemma3_text"),
    (r"gemma-?2", "gemma2"),
    (r"gemma", "gemma"),
    (r"(?<![a-z])phi-?3", "phi3"),
    (r"(?<![a-z])phi", "phi"),
    (r"starcoder-?2", "starcoder2"),
    (r"starcoder|santacoder|gpt_bigcode", "gpt_bigcode"),
    (r"llama|vicuna|alpaca", "llama"),
    (r"falcon", "falcon"),
    (r"bloom", "bloom"),
    (r"pythia|gpt-?neox", "gpt_neox"),
    (r"gpt-?j", "gptj"),
    (r"gpt-?neo", "gpt_neo"),
    (r"(?<![a-z])opt-", "opt"),
    (r"(?<![a-z0-9])t5", "t5"),
    (r"bart", "bart"),
    (r"distilbert", "distilbert"),
    (r"roberta", "roberta"),
    (r"deberta", "deberta-v2"),
    (r"bert", "bert"),
    (r"gpt-?2", "gpt2"),
)


@dataclass(frozen=True)
class Resolution:
    """What a name resolved to: ``config`` holds config.json fields (``model_type`` aside).

    ``source`` is ``local``, ``cache``, ``table`` or ``guess``; ``task`` is the
    default head (one of ``TASKS``).
    """

    name: str
    model_type: str
    config: dict = field(default_factory=dict)
    source: str = "table"
    note: str = ""
    task: str = "causal_lm"


@lru_cache(maxsize=1)
def _table() -> dict[str, dict]:
    text = (Path(__file__).parent / "data" / "models.json").read_text("utf-8")
    return json.loads(text)["models"]


def curated() -> dict[str, dict]:
    """Every curated id -> ``{model_type, task, config, aliases}`` (a copy)."""
    return json.loads(json.dumps(_table()))


def hub_cache_dir() -> Path:
    """The hub cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    for name in ("HF_HUB_CACHE", "HF_HOME", "HOME"):
        consulted.note_env(name)
    if os.environ.get("HF_HUB_CACHE"):
        return _expanded(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        return _expanded(Path(os.environ["HF_HOME"])) / "hub"
    return _expanded(Path("~/.cache/huggingface/hub"))


def task_from_config(config: dict) -> str:
    """The default head named by a config.json's ``architectures`` (or its model type); values
    of the wrong type are ignored."""
    model_type = config.get("model_type")
    model_type = model_type if isinstance(model_type, str) else ""
    archs = config.get("architectures")
    for arch in archs if isinstance(archs, list) else ():
        if not isinstance(arch, str):
            continue
        if arch.endswith(("ForCausalLM", "LMHeadModel")):
            return "causal_lm"
        if arch.endswith("ForSeq2SeqLM") or (
            arch.endswith("ForConditionalGeneration") and model_type in _SEQ2SEQ_TYPES
        ):
            return "seq2seq_lm"
        if arch.endswith("ForMaskedLM"):
            return "masked_lm"
        if arch.endswith("ForSequenceClassification"):
            return "sequence_classification"
        if arch.endswith("Model"):
            return "base"
    return task_for_type(model_type)


def task_for_type(model_type: str) -> str:
    """The usual head of a model type: ``base`` for encoders, ``seq2seq_lm``, else ``causal_lm``."""
    if model_type in _ENCODER_TYPES:
        return "base"
    if model_type in _SEQ2SEQ_TYPES:
        return "seq2seq_lm"
    return "causal_lm"


def _read_config(path: Path) -> dict | None:
    consulted.note_path(path)
    try:
        data = json.loads(read_text(path, CONFIG_LIMIT))  # a regular file of sane size only
    except (OSError, ValueError):
        return None
    # a model type that is not a name (a number, a list) leaves the model unknown
    return data if isinstance(data, dict) and isinstance(data.get("model_type"), str) and data["model_type"] else None


def _from_config_file(name: str, path: Path, source: str) -> Resolution | None:
    data = _read_config(path)
    if data is None:
        return None
    config = {k: v for k, v in data.items() if k != "model_type"}
    return Resolution(name, data["model_type"], config, source, f"read {path}",
                      task_from_config(data))


def _expanded(path: Path) -> Path:
    """``~`` and ``~user`` expanded; the path as written when that user has no home."""
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def _is_dir(path: Path) -> bool:
    """``path`` is a folder (``False`` also when its parent cannot be looked into)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _cached_config(repo_id: str, cache_dir: Path) -> Path | None:
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    consulted.note_path(snapshots)
    if not snapshots.is_dir():
        return None
    consulted.note_path(repo / "refs" / "main")
    try:
        main = read_text(repo / "refs" / "main", CONFIG_LIMIT).strip()
    except OSError:
        main = ""
    if main:
        consulted.note_path(snapshots / main / "config.json")
    if main and (snapshots / main / "config.json").is_file():
        return snapshots / main / "config.json"
    consulted.note_listing(snapshots, "config.json")
    candidates = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def _table_entry(name: str) -> tuple[str, dict] | None:
    wanted = name.lower()
    for model_id, entry in _table().items():
        if wanted == model_id.lower() or wanted in (a.lower() for a in entry.get("aliases", ())):
            return model_id, entry
    return None


# Name endings of re-uploads: quantized or converted copies (``-bnb-4bit``, ``-GPTQ``, ``-AWQ``,
# ``-GGUF``, ``-hf``...) keep the checkpoint's module tree, sizes aside from packing.
_REUPLOAD_WORDS = frozenset(
    {"unsloth", "bnb", "2bit", "3bit", "4bit", "8bit", "int4", "int8", "gptq", "awq", "gguf", "ggml",
     "exl2", "mlx", "fp16", "bf16", "fp8", "hqq", "onnx", "hf", "sharded", "dynamic"}
)
# Words naming a post-trained variant that keeps its base's config.
_VARIANT_WORDS = frozenset({"instruct", "chat", "it", "base", "pt", "hf"})
_VERSION = re.compile(r"v\d+(?:\.\d+)*|\d{4}")  # v0.1, v1.0, 2407 (a release date)
# A parameter count (7b, 1.5b, 135m, 8x7b, a3b): only a name that states its size is read as a
# variant or version of another ("roberta-base" is a size, not the base of "roberta").
_SIZE = re.compile(r"(?:\d+x)?\d+(?:\.\d+)?[bm]|a\d+(?:\.\d+)?b")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?")
# How far a written name is from the curated id it is read as, for the Resolution's note.
_STEPS = ("a re-upload", "a variant", "another version")


def _words(name: str) -> list[str]:
    """The repository name's words, lower-cased, without ``meta-`` and re-upload endings."""
    words = re.split(r"[-_]+", name.rsplit("/", 1)[-1].lower())
    while len(words) > 1 and words[-1] in _REUPLOAD_WORDS:
        words.pop()
    if len(words) > 1 and words[0] == "meta":
        words.pop(0)
    return words


def _keys(name: str) -> tuple[str, str, str]:
    """The name as a re-upload, a variant and another version would write it."""
    words = _words(name)
    if not any(_SIZE.fullmatch(w) for w in words):
        return "-".join(words), "", ""
    variant = [w for w in words if w not in _VARIANT_WORDS]
    version = [w for w in variant if not _VERSION.fullmatch(w)]
    return "-".join(words), "-".join(variant), "-".join(version)


@lru_cache(maxsize=1)
def _key_index() -> tuple[dict[str, list[str]], ...]:
    """For each step, key -> the curated ids with that key (aliases included)."""
    index: tuple[dict[str, list[str]], ...] = ({}, {}, {})
    for model_id, entry in _table().items():
        for written in (model_id, *entry.get("aliases", ())):
            for step, key in enumerate(_keys(written)):
                if key and model_id not in index[step].setdefault(key, []):
                    index[step][key].append(model_id)
    return index


def _same_checkpoint_shape(one: dict, other: dict) -> bool:
    """Same model type, and no config field that both record differs."""
    a, b = one["config"], other["config"]
    return one["model_type"] == other["model_type"] and all(a[k] == b[k] for k in a.keys() & b.keys())


def _variant_entry(name: str) -> tuple[str, dict, str] | None:
    """The curated checkpoint a re-upload, variant or version of it names, when certain.

    The name's words are compared with each curated id's after dropping, step by step,
    re-upload endings, variant words (instruct, chat, it, base...) and versions. The first
    step with any match decides: the name resolves only when every curated id matched there
    has the same model type and no config field on which they differ (so the module tree and
    sizes are those of each); otherwise it stays unresolved, whatever later steps would say.
    Only a name that states its size is read as a variant or version of another.
    """
    if not _HUB_ID.fullmatch(name):
        return None
    for step, key in enumerate(_keys(name)):
        matched = _key_index()[step].get(key)
        if not matched:
            continue
        entries = [_table()[model_id] for model_id in matched]
        if not all(_same_checkpoint_shape(entries[0], e) for e in entries[1:]):
            return None
        model_id = min(matched, key=lambda m: (len(m), m))
        return model_id, _table()[model_id], _STEPS[step]
    return None


def guess_model_type(name: str) -> str | None:
    """A model type guessed from the words in a name (``TinyLlama/...`` -> ``llama``)."""
    lowered = name.lower()
    for pattern, model_type in _GUESSES:
        if re.search(pattern, lowered):
            return model_type
    return None


def resolve_model(name_or_path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None
                  ) -> Resolution | None:
    """Resolve a hub id or local path: local dir, hub cache, curated table, then a guess.

    Never touches the network; returns None when nothing fits.
    """
    name = os.fspath(name_or_path)
    local = _expanded(Path(name))
    consulted.note_path(local)
    if _is_dir(local):
        found = _from_config_file(name, local / "config.json", "local")
        if found is not None:
            return found
    if name.count("/") <= 1 and not local.is_absolute():
        cache = _expanded(Path(cache_dir)) if cache_dir is not None else hub_cache_dir()
        try:
            path = _cached_config(name, cache)
        except OSError:  # a cache this user cannot read (or that changes under us) tells nothing
            path = None
        if path is not None:
            found = _from_config_file(name, path, "cache")
            if found is not None:
                return found
    hit = _table_entry(name)
    if hit is not None:
        model_id, entry = hit
        return Resolution(name, entry["model_type"], dict(entry["config"]), "table",
                          f"curated config of {model_id}", entry["task"])
    near = _variant_entry(name)
    if near is not None:
        model_id, entry, how = near
        return Resolution(name, entry["model_type"], dict(entry["config"]), "table",
                          f"curated config of {model_id} ({name!r} read as {how} of it)", entry["task"])
    model_type = guess_model_type(name)
    if model_type is None:
        return None
    return Resolution(name, model_type, {}, "guess",
                      f"guess: {name!r} looks like a {model_type} model; sizes are that "
                      "type's defaults, not the real checkpoint's", task_for_type(model_type))
