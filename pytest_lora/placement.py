"""assert_device_placement: adapter weights live where the weights they adapt live."""
from __future__ import annotations

from pytest_lora.extras import require_models


def _same_device(actual, wanted) -> bool:
    """``cuda`` (no index) accepts any CUDA device; ``cuda:1`` only that one."""
    if actual.type != wanted.type:
        return False
    return wanted.index is None or actual.index == wanted.index


def _dtype_ok(adapter, base) -> bool:
    """Equal, or float32 adapters over a 16-bit or quantized base (peft's autocast_adapter_dtype)."""
    import torch

    if adapter == base:
        return True
    return adapter == torch.float32 and (base in (torch.float16, torch.bfloat16) or not base.is_floating_point)


def _base_weight(layer):
    base = layer.get_base_layer()
    name = getattr(layer, "parameter_name", None) or next(
        n for n in ("qweight", "weight", "in_proj_weight") if hasattr(base, n))
    return getattr(base, name)


def _elsewhere(model, wanted, reported: set[str]) -> list[str]:
    """One line per module holding parameters or buffers off ``wanted`` (``reported`` ones aside)."""
    by_module: dict[tuple[str, str], list[str]] = {}
    tensors = [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]
    for name, tensor in tensors:
        if name in reported or _same_device(tensor.device, wanted):
            continue
        owner, _, leaf = name.rpartition(".")
        by_module.setdefault((owner or "<model>", str(tensor.device)), []).append(leaf)
    return [f"  {owner}: {', '.join(leaves)} on {device}, expected {wanted}"
            for (owner, device), leaves in by_module.items()]


def _unloaded(model, reported: set[str]) -> list[str]:
    """One line per module left on ``meta`` in a model whose other weights are real (a partial
    load); none when the whole model is on ``meta`` (a skeleton)."""
    tensors = [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]
    if all(tensor.device.type == "meta" for _, tensor in tensors):
        return []
    by_module: dict[str, list[str]] = {}
    for name, tensor in tensors:
        if tensor.device.type == "meta" and name not in reported:
            owner, _, leaf = name.rpartition(".")
            by_module.setdefault(owner or "<model>", []).append(leaf)
    return [f"  {owner}: {', '.join(leaves)} on meta" for owner, leaves in by_module.items()]


def assert_device_placement(peft_model, device=None, *, check_dtype: bool = True) -> None:
    """Assert every adapter weight sits on the device (and dtype) of the base weight it adapts.

    With ``device`` (``"cuda"``, ``"cuda:1"``, ``"cpu"``, ``"meta"``...) every parameter and
    buffer of the model, adapted or not, must also be there; without it, no weight may be left on
    ``meta`` unless the whole model is (a skeleton). ``modules_to_save`` copies are held
    to their original module. On failure, each offending module is named with its devices.
    """
    require_models()
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import ModulesToSaveWrapper

    from pytest_lora.targeting import adapter_parameters

    wanted = torch.device(device) if device is not None else None
    problems: list[str] = []
    reported: set[str] = set()

    def check(name, tensor, base, what):
        if not _same_device(tensor.device, base.device):
            problems.append(f"  {name}: adapter on {tensor.device}, {what} on {base.device}")
        elif check_dtype and not _dtype_ok(tensor.dtype, base.dtype):
            problems.append(f"  {name}: adapter is {tensor.dtype}, {what} is {base.dtype} (both on {base.device})")
        elif wanted is not None and not _same_device(tensor.device, wanted):
            problems.append(f"  {name}: adapter on {tensor.device}, expected {wanted} (base on {base.device})")
        else:
            return
        reported.add(name)

    for module_name, module in peft_model.named_modules():
        if isinstance(module, BaseTunerLayer):
            base = _base_weight(module)
            for param_name, param in adapter_parameters(module):
                check(f"{module_name}.{param_name}", param, base, "base weight")
        elif isinstance(module, ModulesToSaveWrapper):
            originals = dict(module.original_module.named_parameters())
            for adapter_name, copy in module.modules_to_save.items():
                for param_name, param in copy.named_parameters():
                    original = originals.get(param_name)
                    if original is not None:
                        check(f"{module_name}.modules_to_save.{adapter_name}.{param_name}", param, original,
                              "original module")
    misplaced = []
    if wanted is not None:
        misplaced = _elsewhere(peft_model, wanted, reported)
    else:
        misplaced = _unloaded(peft_model, reported)
    if problems or misplaced:
        where = f" (expected on {wanted})" if wanted is not None else ""
        sections = []
        if problems:
            sections.append(f"{len(problems)} adapter weight(s) misplaced{where}:\n" + "\n".join(problems))
        if misplaced and wanted is not None:
            sections.append(f"{len(misplaced)} module(s) with weights or buffers off {wanted}:\n"
                            + "\n".join(misplaced))
        elif misplaced:
            sections.append(f"{len(misplaced)} module(s) with weights or buffers on meta (never loaded) while "
                            "the rest of the model holds real ones:\n" + "\n".join(misplaced))
        raise AssertionError("\n".join(sections))
