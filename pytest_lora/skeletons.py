"""Full-size models on the ``meta`` device: real module tree and shapes, no memory, no weights.

torch and transformers are imported inside the functions, and never reach the network.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from pathlib import Path

from lint_rules.knowledge.models import TASKS, Resolution, curated, hub_cache_dir, resolve_model, task_from_config
from pytest_lora.extras import offline, torch_dtype

# task -> transformers auto class
AUTO_CLASSES = {
    "causal_lm": "AutoModelForCausalLM",
    "seq2seq_lm": "AutoModelForSeq2SeqLM",
    "masked_lm": "AutoModelForMaskedLM",
    "sequence_classification": "AutoModelForSequenceClassification",
    "image_classification": "AutoModelForImageClassification",
    "audio_classification": "AutoModelForAudioClassification",
    "speech_seq2seq": "AutoModelForSpeechSeq2Seq",
    "base": "AutoModel",
}

# config.json keys that describe the file, not the model
_NOT_FIELDS = ("transformers_version", "auto_map", "quantization_config", "torch_dtype", "dtype")


class UnresolvedModelError(LookupError):
    """A model whose real config is unknown here: sizes from a name alone would be wrong."""


# a config.json larger than this is not a model config (and is not read into memory)
_CONFIG_LIMIT = 16 * 1024 * 1024


def _curated_like(name: str, model_type: str | None) -> list[str]:
    """Up to three curated ids of ``model_type`` (the closest to ``name`` first), else any three."""
    ids = sorted(curated())
    same = [model_id for model_id, entry in curated().items() if entry["model_type"] == model_type]
    pool = same or ids
    return (difflib.get_close_matches(name, pool, n=3, cutoff=0) or pool)[:3]


def unresolved_message(name: str, guessed: str | None, keyword: str = "config") -> str:
    """Why ``name`` cannot be sized, and every way to give its config."""
    cache = hub_cache_dir()
    if guessed is None:
        what = f"cannot resolve {name!r} to a model type"
    else:
        what = (f"{name!r} is only a name guess: it looks like a {guessed} model, but building one "
                f"would use that type's default sizes, not this checkpoint's, and every count and "
                f"memory figure would be wrong")
    hub_id = name if re.fullmatch(r"[\w.-]+/[\w.-]+", name) else "<org>/<model>"
    return (
        f"{what}. It is not a local folder with a config.json, not in the Hugging Face cache "
        f"({cache}) and not a curated id. Give the model's config:\n"
        f"  - {keyword}=: a config.json path, its contents as a dict, or a transformers config\n"
        f"  - a local folder holding its config.json, passed as the name\n"
        f"  - the Hugging Face cache: hf download {hub_id} config.json (once, online)\n"
        f"  - a curated id, e.g. {', '.join(_curated_like(name, guessed))}\n"
        + ("" if guessed is None else f"or pass allow_guess=True to accept a default-sized {guessed}.")
    ).rstrip("\n")


def _read_config_file(path: Path) -> dict:
    """A config.json given as ``config=`` (a regular file of bounded size, a JSON object)."""
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"config={os.fspath(path)!r} is not a config.json file")
    if path.stat().st_size > _CONFIG_LIMIT:
        raise ValueError(f"{path} is larger than {_CONFIG_LIMIT // 2**20} MiB: not a model config")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not a config object")
    return data


def _given(name: str, config) -> Resolution:
    """The resolution of an explicit ``config=``: a path, a dict or a transformers config."""
    if isinstance(config, (str, os.PathLike)):
        data = _read_config_file(Path(config).expanduser())
    elif isinstance(config, dict):
        data = dict(config)
    elif hasattr(config, "to_dict") and hasattr(config, "model_type"):
        data = {**config.to_dict(), "model_type": config.model_type}
    else:
        raise TypeError(f"config= takes a config.json path, a dict or a transformers config, "
                        f"not {type(config).__name__}")
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ValueError(f"the config given for {name!r} has no model_type")
    fields = {k: v for k, v in data.items() if k != "model_type"}
    return Resolution(name, model_type, fields, "given", "config=", task_from_config(data))


def resolve_for_build(name_or_path, config=None, *, allow_guess: bool = False,
                      keyword: str = "config") -> Resolution:
    """The config to build ``name_or_path`` from: ``config`` if given, else the knowledge base's.

    Raises ``UnresolvedModelError`` for a name nothing resolves, and for a name guess unless
    ``allow_guess`` (then the guess warns). ``keyword`` names the caller's config argument.
    """
    name = os.fspath(name_or_path)
    if config is not None:
        return _given(name, config)
    resolution = resolve_model(name_or_path)
    if resolution is None:
        raise UnresolvedModelError(unresolved_message(name, None, keyword))
    if resolution.source == "guess":
        if not allow_guess:
            raise UnresolvedModelError(unresolved_message(name, resolution.model_type, keyword))
        warnings.warn(resolution.note, stacklevel=3)
    return resolution


def build_skeleton(name_or_path, task: str | None = None, dtype=None, *, config=None,
                   allow_guess: bool = False):
    """Build ``name_or_path`` at full size on the ``meta`` device and return the model.

    The model's config is ``config`` (a config.json path, its dict, or a transformers config)
    when given, else what ``lint_rules.knowledge.models.resolve_model`` finds: a local folder's
    config.json, the hub cache, the curated table. A name known only by a guess raises
    ``UnresolvedModelError`` (a ``LookupError``) saying how to give the config, unless
    ``allow_guess=True`` accepts the guessed type's default sizes (with a warning). ``task`` is
    one of ``TASKS`` (default: the config's); ``dtype`` is a ``torch.dtype`` or its name, ``bf16``
    and ``fp16`` included (default float32). Raises ``ValueError`` for an unknown task or a model
    type this transformers does not know.
    """
    resolution = resolve_for_build(name_or_path, config, allow_guess=allow_guess)
    return build_resolved(resolution, task, dtype)


def build_resolved(resolution: Resolution, task: str | None = None, dtype=None, device="meta"):
    """The meta-device model of a resolution (see ``build_skeleton``), built without running
    parameter initialisers on it; on another ``device`` (``"cuda"``), the same model with
    transformers' random initialisation there."""
    task = task or resolution.task
    if task not in AUTO_CLASSES:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(AUTO_CLASSES)}")
    dtype = torch_dtype(dtype)
    import torch
    import transformers  # before offline(): the hub reads the flags once, at its first import

    from pytest_lora.meta_init import skipped_on_meta

    with offline(), skipped_on_meta():
        fields = {k: v for k, v in resolution.config.items()
                  if not k.startswith("_") and k not in _NOT_FIELDS}
        try:
            config = transformers.AutoConfig.for_model(resolution.model_type, **fields)
        except ValueError as exc:
            raise ValueError(f"{resolution.name}: {exc}") from None
        auto_class = getattr(transformers, AUTO_CLASSES[task])
        with torch.device(device):
            model = auto_class.from_config(config, dtype=dtype or torch.float32)
            if resolution.config.get("tie_word_embeddings") is False:
                _untie_output_embeddings(model)
    model.config._name_or_path = resolution.name  # as from_pretrained would: names the model in --lora-report
    return model


def _untie_output_embeddings(model) -> None:
    """Give the head its own weight where the class ties it regardless of the config.

    T5 ties ``lm_head`` to the embeddings on construction even when config.json says
    ``tie_word_embeddings: false`` (Flan-T5); loading such a checkpoint unties them, so
    the skeleton does too.
    """
    import torch

    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or embeddings is None or head.weight is not embeddings.weight:
        return
    head.weight = torch.nn.Parameter(torch.empty_like(head.weight))
    tied = getattr(model, "all_tied_weights_keys", None) or {}
    for key in [k for k in tied if k.startswith("lm_head.")]:
        del tied[key]


def count_parameters(model, *, trainable_only: bool = False) -> int:
    """Number of parameter elements, each tensor counted once (tied weights once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
