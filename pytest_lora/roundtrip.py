"""assert_adapter_roundtrip: a saved adapter, loaded onto a freshly built base, is the model that was trained."""
from __future__ import annotations

import copy
import os
from pathlib import Path

from pytest_lora.extras import offline, require_models

_SHOWN = 8  # lines per section of the failure message
_NOT_SAVED = "trained but not in the saved adapter (put its module in modules_to_save)"
_NOT_RESTORED = "saved adapter tensor not restored by loading"
_BASE_DIFFERS = ("frozen weight that differs from the rebuilt base: rows not in the base checkpoint "
                 "(resized embeddings?) and not saved with the adapter (modules_to_save, "
                 "trainable_token_indices or save_embedding_layers=True)")


def _frozen_base_weights(model) -> dict:
    """The base model's own tensors, by their names before peft wrapped anything, that do not
    require grad (a checkpoint holds these; trained base weights must come from the adapter)."""
    from pytest_lora.targeting import original_modules

    weights = {}
    for name, module in original_modules(model):
        prefix = f"{name}." if name else ""
        for leaf, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if not getattr(tensor, "requires_grad", False):
                weights[prefix + leaf] = tensor.detach()
    return weights


def rebuild_base(peft_model, base_vocab_size: int | None = None):
    """The base model as loading code gets it: the same class and config, the frozen weights of
    the trained model (its checkpoint), trained base weights freshly initialized; with
    ``base_vocab_size``, built at that vocabulary and resized to the trained one, so the rows
    added for training are drawn anew, as ``resize_token_embeddings`` at load time draws them."""
    import torch

    from pytest_lora.targeting import unwrap

    model, _ = unwrap(peft_model)
    config = copy.deepcopy(model.config)
    rows = model.get_input_embeddings().weight.shape[0]
    resized = base_vocab_size is not None and base_vocab_size != rows
    if resized:
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        text_config.vocab_size = base_vocab_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        rebuilt = type(model)._from_config(config, dtype=model.dtype)
    own = rebuilt.state_dict()
    weights = {}
    for name, tensor in _frozen_base_weights(model).items():
        if name in own and own[name].shape != tensor.shape:
            tensor = tensor[: own[name].shape[0]]
        weights[name] = tensor
    rebuilt.load_state_dict(weights, strict=False)
    if resized:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(2)
            rebuilt.resize_token_embeddings(rows)
    return rebuilt.to(next(model.parameters()).device).train(model.training)


def _load(rebuilt, path: Path, adapter: str):
    """``PeftModel.from_pretrained(rebuilt, path, is_trainable=True)``, and peft's load result."""
    from peft import PeftConfig, PeftModel
    from peft.auto import MODEL_TYPE_TO_PEFT_MODEL_MAPPING

    config = PeftConfig.from_pretrained(os.fspath(path))
    config.inference_mode = False
    cls = MODEL_TYPE_TO_PEFT_MODEL_MAPPING.get(config.task_type, PeftModel)
    loaded = cls(rebuilt, config, adapter)
    result = loaded.load_adapter(os.fspath(path), adapter, is_trainable=True)
    return loaded, result


def _rows(trained, loaded) -> str:
    """Which rows of a matrix differ, as ``rows 256-259`` (or nothing for other shapes)."""
    if trained.dim() != 2 or trained.shape != loaded.shape:
        return ""
    differing = (trained != loaded).any(dim=1).nonzero().flatten().tolist()
    if not differing:
        return ""
    span = f"{differing[0]}-{differing[-1]}" if len(differing) > 1 else f"{differing[0]}"
    return f" (rows {span}: {len(differing)} of {trained.shape[0]})"


def _replaced_rows(peft_model, adapter: str) -> dict[str, list[int]]:
    """Embedding rows that trainable tokens replace (their base rows are never used), per
    state-dict key of the base weight under the token adapter."""
    from pytest_lora.trained import short_name

    rows = {}
    for name, module in peft_model.named_modules():
        indices = getattr(module, "token_indices", None)
        if isinstance(indices, dict) and adapter in indices and hasattr(module, "base_layer"):
            rows[short_name(f"{name}.base_layer.weight")] = list(indices[adapter])
    return rows


def _unused_rows_kept(trained, loaded, rows):
    """``loaded`` with the trained values in ``rows`` (rows the model never reads)."""
    if not rows or trained.dim() != 2:
        return loaded
    loaded = loaded.clone()
    loaded[list(rows)] = trained[list(rows)]
    return loaded


def _tied(state: dict) -> set[tuple[str, str]]:
    """Pairs of state-dict keys that share one tensor."""
    by_storage: dict[tuple[int, tuple], list[str]] = {}
    for key, tensor in state.items():
        if tensor.device.type != "meta":
            by_storage.setdefault((tensor.data_ptr(), tuple(tensor.shape)), []).append(key)
    return {(keys[0], other) for keys in by_storage.values() for other in keys[1:]}


def assert_adapter_roundtrip(peft_model, tmp_path, *, base=None, base_vocab_size: int | None = None,
                             **save_kwargs) -> None:
    """Save the active adapter under ``tmp_path``, load it onto a rebuilt base, and assert the
    result equals the trained model tensor for tensor, with no missing or unexpected keys.

    ``base`` is a zero-argument callable building the base model as your loading code does
    (resize included); by default the trained model's base is rebuilt with its frozen weights
    (``rebuild_base``), resized from ``base_vocab_size`` (the vocabulary before
    ``resize_token_embeddings``) when given. Every tensor is compared: LoRA factors,
    ``modules_to_save`` copies (classifier heads), trainable token rows, trained biases, resized
    embeddings and tied weights (which must still be tied). ``save_kwargs`` go to
    ``save_pretrained`` (``save_embedding_layers=True``, say).
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    import torch

    from pytest_lora.targeting import unwrap
    from pytest_lora.trained import active_adapters, short_name, trained_tensors

    adapter = active_adapters(peft_model)[0]
    path = Path(tmp_path)
    with offline():
        peft_model.save_pretrained(os.fspath(path), selected_adapters=[adapter], **save_kwargs)
    saved_at = path if adapter == "default" else path / adapter
    rebuilt = base() if base is not None else rebuild_base(peft_model, base_vocab_size)
    with offline():
        loaded, result = _load(rebuilt, saved_at, adapter)

    sections: dict[str, list[str]] = {
        "missing keys on loading": list(result.missing_keys),
        "unexpected keys on loading": list(result.unexpected_keys),
    }
    adapter_names = {t.name for t in trained_tensors(peft_model)}
    requires_grad = {short_name(n) for n, p in peft_model.named_parameters() if p.requires_grad}
    replaced_rows = _replaced_rows(peft_model, adapter)
    trained = {short_name(k): v for k, v in peft_model.state_dict().items()}
    after = {short_name(k): v for k, v in loaded.state_dict().items()}
    sections["in the trained model only"] = sorted(trained.keys() - after.keys())
    sections["in the loaded model only"] = sorted(after.keys() - trained.keys())
    differing = sections["differing tensors"] = []
    for key in [k for k in trained if k in after and ".original_module." not in k]:
        before, now = trained[key], after[key].to(trained[key].device)
        if before.shape != now.shape:
            differing.append(f"{key}: shape {tuple(before.shape)} trained, {tuple(now.shape)} loaded")
        elif before.dtype != now.dtype:
            differing.append(f"{key}: {before.dtype} trained, {now.dtype} loaded")
        elif not torch.equal(before, now := _unused_rows_kept(before, now, replaced_rows.get(key))):
            why = (_NOT_RESTORED if key in adapter_names else
                   _NOT_SAVED if key in requires_grad else _BASE_DIFFERS)
            differing.append(f"{key}: differs{_rows(before, now)}: {why}")
    sections["ties lost"] = [f"{first} and {second}: tied in training, not after loading"
                             for first, second in sorted(_tied(trained) - _tied(after))
                             if first in after and second in after]
    problems = []
    for title, lines in sections.items():
        if lines:
            problems.append(f"{title} ({len(lines)}):")
            problems += [f"  {line}" for line in lines[:_SHOWN]]
            if len(lines) > _SHOWN:
                problems.append(f"  ... and {len(lines) - _SHOWN} more")
    if sections["in the trained model only"] and type(rebuilt) is not type(unwrap(peft_model)[0]):
        problems.insert(0, f"the rebuilt base is a {type(rebuilt).__name__}, the trained model's a "
                           f"{type(unwrap(peft_model)[0]).__name__}")
    if problems:
        raise AssertionError(f"the adapter saved to {saved_at} does not restore the trained model:\n"
                             + "\n".join(problems))
