"""Trainable-parameter counts computed from module shapes and a LoraConfig, and the assertions on them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pytest_lora.extras import require_models

_ADAPTER_MARKERS = (".lora_", ".base_layer.", ".modules_to_save.", ".original_module.")


@dataclass(frozen=True)
class PlannedTensor:
    """A tensor that will require grad once the config is applied.

    ``new`` tensors are created by the adapter (LoRA factors, DoRA magnitudes, ``modules_to_save``
    copies); the others are base weights made trainable (``bias="all"``/``"lora_only"``).
    ``lora`` marks the adapter weights peft keeps in float32 over a 16-bit base.
    """

    module: str
    kind: str
    numel: int
    dtype: object
    new: bool = True
    lora: bool = True


def _shapes(target) -> tuple[int, int, int]:
    """(numel of lora_A, numel of lora_B without bias, out features) of one target."""
    import torch
    from transformers.pytorch_utils import Conv1D

    module, r = target.module, target.rank
    if target.parameter is not None:
        shape = getattr(module, target.parameter).shape
        experts, first, second = (shape[0], shape[1], shape[2]) if len(shape) == 3 else (1, shape[1], shape[0])
        return r * experts * first, r * experts * second, second
    if isinstance(module, Conv1D):
        fan_in, fan_out = module.weight.shape
        return r * fan_in, fan_out * r, fan_out
    if isinstance(module, torch.nn.Linear):
        return r * module.in_features, module.out_features * r, module.out_features
    if isinstance(module, torch.nn.Embedding):
        return r * module.num_embeddings, module.embedding_dim * r, module.embedding_dim
    if isinstance(module, torch.nn.MultiheadAttention):  # the packed q/k/v projection
        if not module._qkv_same_embed_dim:
            raise ValueError(f"{target.name}: peft adapts MultiheadAttention only with one q/k/v embed dim")
        return r * module.embed_dim, 3 * module.embed_dim * r, 3 * module.embed_dim
    if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        kernel = 1
        for size in module.kernel_size:
            kernel *= size
        return r * module.in_channels * kernel, module.out_channels * r // module.groups, module.out_channels
    raise ValueError(
        f"Target module {target.name} ({type(module).__name__}) is not supported: LoRA adapts "
        "Linear, Conv1D, Embedding, Conv1d/2d/3d and MultiheadAttention layers"
    )


def _is_attention(module) -> bool:
    import torch

    return isinstance(module, torch.nn.MultiheadAttention)


def _with_attention_out_projections(targets) -> list:
    """peft adapts a MultiheadAttention's ``out_proj`` along with its packed projection."""
    from dataclasses import replace

    expanded = []
    for target in targets:
        expanded.append(target)
        if target.parameter is None and _is_attention(target.module):
            expanded.append(replace(target, name=f"{target.name}.out_proj", module=target.module.out_proj))
    return expanded


def _is_embedding(module) -> bool:
    import torch

    return isinstance(module, torch.nn.Embedding)


def _check_rank(target) -> None:
    """peft's checks on a target's rank: divisible by a convolution's groups, a positive int."""
    import torch

    r, module = target.rank, target.module
    if target.parameter is None and isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        try:
            indivisible = r % module.groups != 0
        except TypeError:
            indivisible = None
        if indivisible:
            raise ValueError(
                f"Targeting a {type(module).__name__} with groups={module.groups} and rank {r}. "
                "Currently, support is limited to conv layers where the rank is divisible by groups. "
                "Either choose a different rank or do not target this specific layer.")
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"`r` should be a positive integer value but the value passed is {r!r} "
                        f"({type(r).__name__}, for {target.name})")
    if r <= 0:
        raise ValueError(f"`r` should be a positive integer value but the value passed is {r}")


def _check_compatible(base, config, targets) -> None:
    """peft's refusal of modules a model family cannot adapt (``out_proj``/``conv1d`` on Mamba)."""
    try:
        from peft.tuners.tuners_utils import _check_lora_target_modules_mamba as check
    except ImportError:  # a peft without the check adapts them
        return
    for target in targets:
        if target.parameter is None:
            check(config, base, target.name.rpartition(".")[2])


def plan_trainable(model, config=None) -> list[PlannedTensor]:
    """Every tensor that applying ``config`` to ``model`` will make trainable, without applying it.

    ``model`` may already be a PeftModel: its active adapter's config is then the default.
    Raises what peft raises for the config on this model, with peft's reason.
    """
    require_models()
    from pytest_lora.replication import replicate
    from pytest_lora.targeting import lora_config, original_modules, resolve_targets, unwrap
    from pytest_lora.trainable_tokens import tied_with_embedding, token_deltas

    base, active = unwrap(model)
    config = lora_config(config if config is not None else active)
    if config is None:
        raise ValueError("pass a LoraConfig (or its keyword arguments) for a model without an adapter")
    named = list(original_modules(base))
    if active is None:  # not yet adapted: what peft checks on the model first
        tied_with_embedding(base)
        if config.layer_replication:
            named = replicate(base, named, config.layer_replication)
    targets, saved = resolve_targets(base, config, named)
    _check_compatible(base, config, targets)
    targets = _with_attention_out_projections(targets)
    plan: list[PlannedTensor] = []
    for target in targets:
        _check_rank(target)
        if config.use_dora and (target.parameter is not None or _is_attention(target.module)):
            raise ValueError(f"peft does not support DoRA on {target.name}")
        a, b, out = _shapes(target)
        if config.lora_bias and target.parameter is None and _is_embedding(target.module):
            raise ValueError(f"lora_bias=True is not supported for the Embedding {target.name}")
        weight = getattr(target.module, target.parameter or ("in_proj_weight" if _is_attention(target.module)
                                                              else "weight"))
        plan.append(PlannedTensor(target.name, "lora_A", a, weight.dtype))
        plan.append(PlannedTensor(target.name, "lora_B", b, weight.dtype))
        if config.lora_bias:
            plan.append(PlannedTensor(target.name, "lora_bias", out, weight.dtype))
        if config.use_dora:
            plan.append(PlannedTensor(target.name, "dora_magnitude", out, weight.dtype))
    modules = dict(named)
    for name in saved:
        for param in modules[name].parameters():
            plan.append(PlannedTensor(name, "modules_to_save", param.numel(), param.dtype, lora=False))
    adapted = {target.name for target in targets if target.parameter is None}
    for name, numel, dtype in token_deltas(base, named, config, adapted):
        plan.append(PlannedTensor(name, "trainable_tokens", numel, dtype))
    plan.extend(_trainable_biases(config.bias, targets, named, saved))
    return plan


def _trainable_biases(bias, targets, named, saved) -> list[PlannedTensor]:
    if bias == "none":
        return []
    if bias not in ("all", "lora_only"):
        raise NotImplementedError(f"Requested bias: {bias}, is not implemented.")
    owners = []
    if bias == "all":
        # modules_to_save copies are made after this: their originals end up frozen
        owners = [(name, getattr(module, "bias")) for name, module in named
                  if "bias" in dict(module.named_parameters(recurse=False))
                  and not any(name == outer or name.startswith(outer + ".") for outer in saved)]
    else:
        owners = [(t.name, getattr(t.module, "bias", None)) for t in targets]
    tensors, seen = [], set()
    for name, tensor in owners:
        if tensor is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        tensors.append(PlannedTensor(name, "bias", tensor.numel(), tensor.dtype, new=False, lora=False))
    return tensors


def expected_trainable_params(model, config=None) -> int:
    """The number of trainable parameters peft will report once ``config`` is applied to ``model``.

    Computed from the model's module shapes and the config alone (``config`` may be a LoraConfig or
    its keyword arguments); the model is not modified.
    """
    return sum(tensor.numel for tensor in plan_trainable(model, config))


def trainable_params(model) -> int:
    """The number of parameters that require grad (each shared tensor once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _owner(param_name: str) -> str:
    name = param_name.removeprefix("base_model.model.")
    cuts = [name.find(marker) for marker in _ADAPTER_MARKERS if marker in name]
    return name[: min(cuts)] if cuts else name.rpartition(".")[0]


_MAX_ROWS = 60  # per-module rows shown on failure


def _table(expected: dict[str, int] | None, actual: dict[str, int], *, every: bool) -> str:
    """Per module: analytic vs actual (only the differing rows unless ``every``); actual alone
    when there is no analytic count."""
    rows = []
    for name in sorted(set(expected or {}) | set(actual)):
        got = actual.get(name, 0)
        if expected is None:
            rows.append(f"  {name:<60} actual {got:>12,}")
            continue
        want = expected.get(name, 0)
        if want == got and not every:
            continue
        why = ("" if want == got else "trainable but should not be" if want == 0 else
               "should be trainable and is not" if got == 0 else "count differs")
        rows.append(f"  {name:<60} analytic {want:>12,}  actual {got:>12,}  {why}".rstrip())
    if len(rows) > _MAX_ROWS:
        rows[_MAX_ROWS:] = [f"  ... and {len(rows) - _MAX_ROWS} more modules"]
    return "\n".join(rows)


def assert_trainable_params(peft_model, expected: int | None = None) -> int:
    """Assert the model's trainable count equals ``expected`` (default: the analytic count).

    On failure the message lists, per module, the analytic and the actual count and says what is
    trainable that should not be and what should be and is not; with ``expected``, every
    trainable module is listed, so the table shows where the difference from ``expected`` lies.
    Returns the count.
    """
    require_models()
    actual_by_module: dict[str, int] = defaultdict(int)
    for name, param in peft_model.named_parameters():
        if param.requires_grad:
            actual_by_module[_owner(name)] += param.numel()
    actual = sum(actual_by_module.values())
    if actual == expected:
        return actual
    try:
        plan = plan_trainable(peft_model)  # the analytic count, and the per-module table on failure
    except Exception as error:  # noqa: BLE001 - with expected=, the table of what is trainable still helps
        if expected is None:
            raise
        plan, unmodelled = None, error
    analytic = None if plan is None else sum(tensor.numel for tensor in plan)
    wanted = analytic if expected is None else expected
    if actual == wanted:
        return actual
    expected_by_module: dict[str, int] | None = None
    if plan is not None:
        expected_by_module = defaultdict(int)
        for tensor in plan:
            expected_by_module[tensor.module] += tensor.numel
    if expected is None:
        message = f"trainable parameters: actual {actual:,} != the config's analytic count {wanted:,}"
    elif plan is None:
        message = f"trainable parameters: actual {actual:,} != expected {wanted:,} (no analytic count: {unmodelled})"
    else:
        message = f"trainable parameters: actual {actual:,} != expected {wanted:,} (the config's analytic count: {analytic:,})"
    table = _table(expected_by_module, actual_by_module, every=expected is not None)
    if table:
        heading = "per module (actual)" if plan is None else "per module (analytic vs actual)"
        message += f"\n{heading}:\n" + table
    raise AssertionError(message)


def assert_base_frozen(peft_model) -> None:
    """Assert that only adapter weights and ``modules_to_save`` copies require grad.

    Biases the config asks for (``bias="all"`` or ``"lora_only"``) are allowed too.
    """
    require_models()
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import ModulesToSaveWrapper

    from pytest_lora.targeting import adapter_parameters, unwrap

    _, config = unwrap(peft_model)
    bias = getattr(config, "bias", "none")
    allowed: set[int] = set()
    for module in peft_model.modules():
        if isinstance(module, BaseTunerLayer):
            allowed.update(id(p) for _, p in adapter_parameters(module))
            base_bias = getattr(module.get_base_layer(), "bias", None)
            if bias == "lora_only" and base_bias is not None:
                allowed.add(id(base_bias))
        elif isinstance(module, ModulesToSaveWrapper):
            allowed.update(id(p) for p in module.modules_to_save.parameters())
    offenders = [
        name for name, param in peft_model.named_parameters()
        if param.requires_grad and id(param) not in allowed
        and not (bias == "all" and (name == "bias" or name.endswith(".bias")))
    ]
    if offenders:
        listing = "\n".join(f"  {name}" for name in offenders)
        raise AssertionError(f"{len(offenders)} base weight(s) require grad:\n{listing}")
