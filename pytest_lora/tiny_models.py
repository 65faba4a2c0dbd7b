"""Tiny random-weight models of any transformers architecture, built offline from a config."""
from __future__ import annotations

import dataclasses
import inspect
import os

from pytest_lora.extras import offline, require_models, torch_dtype

TASKS = ("causal_lm", "seq2seq_lm", "masked_lm", "sequence_classification", "image_classification",
         "audio_classification", "speech_seq2seq", "base")
# task -> transformers' auto mapping of model types to that task's class; the order in which a
# model type's default task is chosen (what it is usually fine-tuned as)
_TASK_MAPPINGS = {
    "speech_seq2seq": "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",
    "seq2seq_lm": "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "causal_lm": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "sequence_classification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "image_classification": "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
    "audio_classification": "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES",
    "masked_lm": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
}

# Size of every dimension a config may name, under the names transformers' configs use.
_HIDDEN, _HEADS, _KV_HEADS, _HEAD_DIM, _FFN, _LAYERS, _VOCAB = 64, 4, 2, 16, 128, 2, 256
TINY_FIELDS: dict[str, int] = {
    **dict.fromkeys(("hidden_size", "d_model", "n_embd", "dim", "embed_dim", "word_embed_proj_dim"), _HIDDEN),
    **dict.fromkeys(
        ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "num_decoder_layers",
         "encoder_layers", "decoder_layers"), _LAYERS),
    **dict.fromkeys(
        ("num_attention_heads", "num_heads", "n_head", "n_heads", "encoder_attention_heads",
         "decoder_attention_heads"), _HEADS),
    **dict.fromkeys(("num_key_value_heads", "num_kv_heads", "n_head_kv"), _KV_HEADS),
    **dict.fromkeys(("head_dim", "d_kv", "attention_head_size"), _HEAD_DIM),
    **dict.fromkeys(
        ("intermediate_size", "ffn_dim", "n_inner", "d_ff", "encoder_ffn_dim", "decoder_ffn_dim",
         "hidden_dim", "ffn_hidden_size"), _FFN),
    **dict.fromkeys(("moe_intermediate_size", "shared_expert_intermediate_size"), 32),
    **dict.fromkeys(("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"), 4),
    "num_experts_per_tok": 2,
    **dict.fromkeys(("vocab_size", "vocab_size_per_layer_input"), _VOCAB),
    "hidden_size_per_layer_input": _HEAD_DIM,
    "embedding_size": _HIDDEN,
    "image_size": 32,
    "patch_size": 8,
}
# Positions only cost parameters where they are learned embeddings; cap them.
_MAX_POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len")
_POSITIONS_CAP = 512
# Special token ids past the shrunk vocabulary would index outside the embedding.
_TOKEN_IDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id",
              "sep_token_id", "cls_token_id", "mask_token_id", "forced_eos_token_id")
# Where the generic table is not enough (fields that must agree with each other).
OVERRIDES: dict[str, dict[str, object]] = {
    "gemma3": {"mm_tokens_per_image": 4},
    "deepseek_v3": {
        "kv_lora_rank": 16, "q_lora_rank": 32, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
        "v_head_dim": 16, "first_k_dense_replace": 1, "n_group": 2, "topk_group": 1,
    },
    "mpt": {"expansion_ratio": 2},
    "falcon": {"num_kv_heads": _HEADS},
    "gpt_neo": {"attention_types": [[["global", "local"], 1]]},
    "whisper": {"max_source_positions": 32, "max_target_positions": 64},
    # the convolutional feature encoders and stages are sized by lists
    "wav2vec2": {"conv_dim": (32,) * 7},
    "hubert": {"conv_dim": (32,) * 7},
    "convnext": {"num_stages": 2, "hidden_sizes": [16, 32], "depths": [1, 1]},
}


def tiny_config(model_type: str, _fields: dict | None = None, **overrides):
    """The config of ``model_type`` with every size field shrunk (``overrides`` win); ``_fields``,
    a real config's other fields (``shrunk_fields``), replace the type's defaults."""
    require_models()
    import transformers
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"transformers {transformers.__version__} has no model type {model_type!r}")
    config_class = CONFIG_MAPPING[model_type]
    kwargs = _tiny_kwargs(config_class, {**(_fields or {}), **OVERRIDES.get(model_type, {}), **overrides})
    config = config_class(**kwargs)
    # Sub-configs typed as AutoConfig (a vision tower, say) are known only once built.
    rebuilt = False
    for name in getattr(config_class, "sub_configs", None) or {}:
        sub = getattr(config, name, None)
        if name not in kwargs and isinstance(sub, transformers.PretrainedConfig):
            kwargs[name] = {"model_type": sub.model_type, **_tiny_kwargs(type(sub), {})}
            rebuilt = True
    return config_class(**kwargs) if rebuilt else config


def _keyword_defaults(config_class) -> dict[str, object]:
    """The config's keyword arguments and their defaults (transformers 5 dataclass fields, or
    transformers 4 ``__init__`` parameters: the signature covers both)."""
    parameters = inspect.signature(config_class.__init__).parameters.values()
    return {p.name: p.default for p in parameters
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _tiny_kwargs(config_class, overrides: dict) -> dict:
    defaults = _keyword_defaults(config_class)
    aliases = getattr(config_class, "attribute_map", {}) or {}

    def field_for(name):
        target = name if name in defaults else aliases.get(name)
        return target if target in defaults else None

    kwargs: dict[str, object] = {}
    for name, value in TINY_FIELDS.items():
        target = field_for(name)
        if target is not None:
            kwargs.setdefault(target, value)
    for name in _MAX_POSITIONS:
        target = field_for(name)
        default = defaults[target] if target else None
        if isinstance(default, int) and default > _POSITIONS_CAP:
            kwargs[target] = _POSITIONS_CAP
    vocab = kwargs.get(field_for("vocab_size") or "", None)
    for name in _TOKEN_IDS:
        target = field_for(name)
        default = defaults[target] if target else None
        if vocab and isinstance(default, int) and default >= vocab:
            kwargs[target] = vocab - 1
    for name, sub_class in (getattr(config_class, "sub_configs", None) or {}).items():
        if name in defaults and dataclasses.is_dataclass(sub_class):
            sub_kwargs = _tiny_kwargs(sub_class, {})
            if sub_kwargs:
                kwargs[name] = sub_kwargs
    kwargs.update(overrides)
    return kwargs


def _mapping(task: str) -> dict:
    from transformers.models.auto import modeling_auto as auto

    return getattr(auto, _TASK_MAPPINGS[task])


def default_task(model_type: str) -> str:
    """What ``model_type`` is usually fine-tuned as: speech seq2seq (Whisper), seq2seq for
    encoder-decoders, causal LM for decoders, then sequence, image or audio classification."""
    require_models()
    if model_type in _mapping("speech_seq2seq"):
        return "speech_seq2seq"
    if model_type in _mapping("seq2seq_lm"):
        return "seq2seq_lm"
    if model_type in _mapping("causal_lm") and model_type not in _mapping("masked_lm"):
        return "causal_lm"
    for task in ("sequence_classification", "image_classification", "audio_classification"):
        if model_type in _mapping(task):
            return task
    return "base"


def task_of(model_type: str, architectures) -> str:
    """The task of the class a config.json's ``architectures`` names, else ``default_task``."""
    for architecture in architectures or ():
        for task in _TASK_MAPPINGS:
            names = _mapping(task).get(model_type, ())
            if architecture == names or architecture in (names if isinstance(names, tuple) else ()):
                return task
    return default_task(model_type)


def build_tiny_model(model, task: str | None = None, *, dtype=None, device="cpu", seed: int = 0,
                     device_map=None, config=None, **config_overrides):
    """A fresh, deterministic, random-weight model with tiny dimensions, in eval mode.

    ``model`` is a transformers model type (``"llama"``), or a model id or local folder whose
    config the knowledge base finds (a folder's config.json, the hub cache, the curated table):
    that config (or ``config=``: a config.json path, its dict or a transformers config) is shrunk,
    keeping its module names and structure (gated MLPs, tied embeddings, attention layout).
    ``task`` is one of ``TASKS`` (default: the class the config.json names, else ``default_task``); ``config_overrides`` set config fields. The weights depend on ``seed``
    only (the global RNG is left as it was). With ``device_map`` (a dict or ``"auto"``) the model
    is dispatched with accelerate.
    """
    require_models()
    import torch
    import transformers

    from pytest_lora.skeletons import AUTO_CLASSES

    model_type, fields, name = _resolved(model, config)
    task = task or task_of(model_type, fields.get("architectures"))
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    tiny = tiny_config(model_type, _fields=fields, **config_overrides)
    text_config = tiny.get_text_config() if hasattr(tiny, "get_text_config") else tiny
    if task == "sequence_classification" and getattr(text_config, "pad_token_id", None) is None:
        text_config.pad_token_id = 0
        tiny.pad_token_id = 0
    with offline(), torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # the CPU generator only: fork_rng restores no other
        built = getattr(transformers, AUTO_CLASSES[task]).from_config(tiny, dtype=torch_dtype(dtype))
    built.eval()
    if name:
        built.config._name_or_path = name  # as from_pretrained would: names the model in --lora-report
    if device_map is not None:
        return dispatch(built, device_map)
    return built.to(device)


def _resolved(model, config=None) -> tuple[str, dict, str | None]:
    """(model type, the config's fields shrunk to tiny sizes, the id) of a model type, or of a model
    id or folder (its config: ``config=``, else the knowledge base's)."""
    import transformers
    from transformers import CONFIG_MAPPING

    from pytest_lora.skeletons import UnresolvedModelError, resolve_for_build

    name = os.fspath(model)
    if config is None and name in CONFIG_MAPPING:
        return name, {}, None
    try:
        resolution = resolve_for_build(name, config)
    except UnresolvedModelError as error:
        raise UnresolvedModelError(f"{name!r} is not a model type of transformers {transformers.__version__}, "
                                   f"and as a model id: {error}") from None
    if resolution.model_type not in CONFIG_MAPPING:
        raise ValueError(f"{name}: transformers {transformers.__version__} has no model type "
                         f"{resolution.model_type!r}")
    return resolution.model_type, shrunk_fields(CONFIG_MAPPING[resolution.model_type], resolution.config), name


def shrunk_fields(config_class, fields: dict) -> dict:
    """A real config's fields with every size left to ``tiny_config``: size fields dropped,
    special token ids kept inside the tiny vocabulary, per-layer lists cut to the tiny layer
    count, multi-head attention kept multi-head, sub-configs shrunk the same way."""
    from transformers import CONFIG_MAPPING

    from pytest_lora.skeletons import _NOT_FIELDS

    tiny = _tiny_kwargs(config_class, {})
    layers = next((fields[name] for name in TINY_FIELDS if TINY_FIELDS[name] == _LAYERS
                   and isinstance(fields.get(name), int)), None)
    shrunk = {}
    for name, value in fields.items():
        if name.startswith("_") or name in _NOT_FIELDS or name in tiny or name in _MAX_POSITIONS:
            continue
        if name in _TOKEN_IDS:
            value = [min(v, _VOCAB - 1) for v in value] if isinstance(value, list) else (
                min(value, _VOCAB - 1) if isinstance(value, int) else value)
        elif isinstance(value, list) and layers and len(value) == layers:
            value = value[:_LAYERS]
        shrunk[name] = value
    defaults = _keyword_defaults(config_class)
    heads = next((fields[n] for n in ("num_attention_heads", "num_heads", "n_head") if n in fields), None)
    kv_heads = next((n for n in ("num_key_value_heads", "num_kv_heads", "n_head_kv") if n in defaults), None)
    if heads and kv_heads and fields.get(kv_heads, defaults[kv_heads]) in (None, heads):
        shrunk[kv_heads] = _HEADS  # multi-head attention stays multi-head
    for name, sub_class in (getattr(config_class, "sub_configs", None) or {}).items():
        sub = shrunk.get(name)
        if isinstance(sub, dict):
            if not hasattr(sub_class, "model_type") or sub.get("model_type") in CONFIG_MAPPING:
                sub_class = CONFIG_MAPPING.get(sub.get("model_type"), sub_class)
            shrunk[name] = {**shrunk_fields(sub_class, sub), **_tiny_kwargs(sub_class, {}),
                            **({"model_type": sub["model_type"]} if "model_type" in sub else {})}
    return shrunk


def dispatch(model, device_map):
    """Spread ``model`` over devices: ``"auto"`` balances its layers across every CUDA device, and
    puts it on the CPU where there is none (as transformers' ``from_pretrained`` does)."""
    import torch

    try:
        from accelerate import dispatch_model, infer_auto_device_map
    except ImportError:
        raise ImportError("device_map needs accelerate: pip install accelerate") from None

    if device_map == "auto":
        count = torch.cuda.device_count()
        if count == 0:
            return dispatch_model(model, device_map={"": "cpu"})
        size = sum(p.numel() * p.element_size() for p in model.parameters())
        budget = {i: int(size / count * 1.3) + (1 << 20) for i in range(count)}
        no_split = getattr(model, "_no_split_modules", None) or []
        device_map = infer_auto_device_map(model, max_memory=budget, no_split_module_classes=list(no_split))
    return dispatch_model(model, device_map=device_map)
