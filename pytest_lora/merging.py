"""assert_merge_equivalent: merge_and_unload gives the model the adapter gave."""
from __future__ import annotations

import copy
import warnings

from pytest_lora.extras import require_models

# Relative tolerance per base dtype, against the largest output magnitude: a few units of each
# 16-bit type's epsilon (merging rounds every adapted weight once), a margin for float32.
_RTOL = {"float32": 1e-4, "float64": 1e-8, "bfloat16": 3.2e-2, "float16": 4e-3}
_ATOL = 1e-5
# base layers peft merges into by dequantizing and quantizing again
_QUANTIZED_MODULES = ("bitsandbytes", "auto_gptq", "gptqmodel", "awq", "hqq", "torchao", "optimum.quanto", "eetq")


def _is_quantized(layer) -> bool:
    base = layer.get_base_layer()
    weight = getattr(base, "weight", None)
    return (type(base).__module__.startswith(_QUANTIZED_MODULES)
            or (weight is not None and not weight.is_floating_point()))


def _shared_base_weights(peft_model) -> list[str]:
    """Adapted base weights that other modules use too (tied embeddings, replicated layers):
    merging writes the delta into the shared tensor, so it reaches those modules as well."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    from pytest_lora.trained import short_name

    layers = [(name, m) for name, m in peft_model.named_modules(remove_duplicate=False) if isinstance(m, BaseTunerLayer)]
    base_layers = {id(layer.get_base_layer()) for _, layer in layers}
    users: dict[int, list[str]] = {}
    for name, module in peft_model.named_modules(remove_duplicate=False):
        if isinstance(module, BaseTunerLayer) or id(module) in base_layers:
            continue
        for leaf, param in module.named_parameters(recurse=False):
            users.setdefault(id(param), []).append(short_name(f"{name}.{leaf}"))
    lines, seen = [], {}
    for name, module in layers:
        weight = getattr(module.get_base_layer(), "weight", None)
        if id(weight) in seen:
            lines.append(f"  {short_name(name)}: its base weight is {seen[id(weight)]}'s too, adapted twice")
            continue
        seen[id(weight)] = short_name(name)
        if users.get(id(weight)):
            lines.append(f"  {short_name(name)}: its base weight is also {', '.join(users[id(weight)])}, "
                         "which merging changes too")
    return lines


def assert_merge_equivalent(peft_model, *, batch=None, rtol: float | None = None, atol: float = _ATOL) -> float:
    """Assert ``merge_and_unload()`` gives the outputs the adapted model gives, within the base
    dtype's tolerance; returns the largest difference.

    Runs on a copy (the model is left as it is), in eval mode, on ``batch`` (default: a tiny
    batch for the model's main input). The outputs may differ by ``atol + rtol * max|output|``
    (``rtol`` defaults to a few units of a 16-bit dtype's epsilon, 1e-4 for float32). On failure,
    adapted base weights shared with other modules (tied embeddings, ``layer_replication``) are
    named. A quantized base is merged by dequantizing and quantizing again: there a difference is
    expected, so it is reported as a warning with its size, never as a failure.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer

    from pytest_lora.batches import first_output, tiny_batch
    from pytest_lora.trained import short_name

    batch = tiny_batch(peft_model, labels=False) if batch is None else batch
    model = copy.deepcopy(peft_model).eval()
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
    quantized = [short_name(name) for name, layer in layers if _is_quantized(layer)]
    dtype = next((layer.get_base_layer().weight.dtype for _, layer in layers
                  if getattr(layer.get_base_layer(), "weight", None) is not None), torch.float32)
    with torch.no_grad():
        before = first_output(model(**batch)).float()
        shared = _shared_base_weights(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peft's own rounding warning is restated below
            merged = model.merge_and_unload()
        after = first_output(merged(**batch)).float()
    scale = before.abs().max().item()
    difference = (after - before).abs().max().item() if before.shape == after.shape else float("inf")
    if rtol is None:
        rtol = _RTOL.get(str(dtype).removeprefix("torch."), _RTOL["float32"])
    allowed = atol + rtol * scale
    if quantized and torch.isfinite(after).all():
        warnings.warn(f"merged into a quantized base ({', '.join(quantized[:3])}"
                      f"{', ...' if len(quantized) > 3 else ''}): outputs differ by up to {difference:.3g} "
                      f"(largest output {scale:.3g}); merging rounds to the quantized type, so compare "
                      "the merged model on your own metric", UserWarning, stacklevel=2)
        return difference
    if not difference <= allowed:
        lines = [f"outputs differ after merge_and_unload: max |difference| {difference:.4g} > {allowed:.3g} "
                 f"allowed for {str(dtype).removeprefix('torch.')} (atol {atol:g} + rtol {rtol:g} x largest "
                 f"output {scale:.3g})"]
        if shared:
            lines.append("adapted weights shared with other modules:")
            lines += shared
        raise AssertionError("\n".join(lines))
    return difference
