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
from importlib import resources
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
     "blenderbot", "prophetnet", "switch_transformers"}
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
    text = resources.files(__package__).joinpath("data/models.json").read_text("utf-8")
    return json.loads(text)["models"]


def curated() -> dict[str, dict]:
    """Every curated id -> ``{model_type, task, config, aliases}`` (a copy)."""
    return json.loads(json.dumps(_table()))


def hub_cache_dir() -> Path:
    """The hub cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    for name in ("HF_HUB_CACHE", "HF_HOME", "HOME"):
        consulted.note_env(name)
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def task_from_config(config: dict) -> str:
    """The default head named by a config.json's ``architectures`` (or its model type)."""
    model_type = config.get("model_type", "")
    for arch in config.get("architectures") or ():
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
    return data if isinstance(data, dict) and data.get("model_type") else None


def _from_config_file(name: str, path: Path, source: str) -> Resolution | None:
    data = _read_config(path)
    if data is None:
        return None
    config = {k: v for k, v in data.items() if k != "model_type"}
    return Resolution(name, data["model_type"], config, source, f"read {path}",
                      task_from_config(data))


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
    local = Path(name).expanduser()
    consulted.note_path(local)
    if local.is_dir():
        found = _from_config_file(name, local / "config.json", "local")
        if found is not None:
            return found
    if name.count("/") <= 1 and not local.is_absolute():
        cache = Path(cache_dir).expanduser() if cache_dir is not None else hub_cache_dir()
        path = _cached_config(name, cache)
        if path is not None:
            found = _from_config_file(name, path, "cache")
            if found is not None:
                return found
    hit = _table_entry(name)
    if hit is not None:
        model_id, entry = hit
        return Resolution(name, entry["model_type"], dict(entry["config"]), "table",
                          f"curated config of {model_id}", entry["task"])
    model_type = guess_model_type(name)
    if model_type is None:
        return None
    return Resolution(name, model_type, {}, "guess",
                      f"guess: {name!r} looks like a {model_type} model; sizes are that "
                      "type's defaults, not the real checkpoint's", task_for_type(model_type))
