"""assert_lora_grads_flow: one training step on a tiny batch reaches every weight the adapter trains."""
from __future__ import annotations

import warnings

from pytest_lora.extras import require_models

_FROZEN = ("requires_grad=False: a frozen adapter (PeftModel.from_pretrained loads one unless "
           "is_trainable=True)")
_REENTRANT = ("reentrant gradient checkpointing (use_reentrant=True) gives no gradient to the weights "
              "inside a checkpointed block when the block's inputs do not require grad: call "
              "model.enable_input_require_grads() before training (prepare_model_for_kbit_training does), "
              "or checkpoint with use_reentrant=False")
_UNREACHED = "not reached by the backward pass: the batch's path does not go through it, or an input was detached"


def _reentrant_checkpointing(model) -> bool:
    """Whether some module checkpoints its forward with ``use_reentrant=True``."""
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False) is True:
            keywords = getattr(getattr(module, "_gradient_checkpointing_func", None), "keywords", {}) or {}
            if keywords.get("use_reentrant", False):
                return True
    return False


def _enable_checkpointing(base, setting) -> None:
    """Turn checkpointing on as transformers' Trainer does (``setting``: True, or checkpoint kwargs)."""
    kwargs = setting if isinstance(setting, dict) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if hasattr(base, "activation_checkpointing_enable"):
            base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _disable_checkpointing(base) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if hasattr(base, "activation_checkpointing_disable"):
            base.activation_checkpointing_disable()
        else:
            base.gradient_checkpointing_disable()


def _partner(name: str) -> str | None:
    """The other LoRA factor of ``name`` (``lora_A`` <-> ``lora_B``, embedding factors too)."""
    for one, other in ((".lora_A.", ".lora_B."), (".lora_B.", ".lora_A."),
                       (".lora_embedding_A.", ".lora_embedding_B."), (".lora_embedding_B.", ".lora_embedding_A.")):
        if one in name:
            return name.replace(one, other)
    return None


def _step(peft_model, batch):
    """Forward and backward in training mode; the loss (mode, grads and RNG restored by the caller)."""
    import torch

    from pytest_lora.batches import loss_of

    with torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "None of the inputs have requires_grad" is the finding itself
        loss = loss_of(peft_model(**batch))
        if loss.requires_grad:
            loss.backward()
    return loss


def assert_lora_grads_flow(peft_model, gradient_checkpointing=None, *, batch=None) -> None:
    """Assert one forward/backward pass in training mode gives every adapter weight a gradient.

    ``gradient_checkpointing``: None leaves the model as it is; True (transformers' defaults) or
    a dict of ``torch.utils.checkpoint`` keyword arguments (``{"use_reentrant": True}``) turns it
    on for the check, as the Trainer would. ``batch`` (a dict of model inputs) defaults to a tiny
    batch with labels for the model's head. Fails listing each LoRA factor, DoRA magnitude,
    ``modules_to_save`` copy or trainable-token row set of the active adapter whose gradient is
    None, zero or not finite, and why. A LoRA factor whose partner is all zeros (``lora_A`` while
    ``lora_B`` is at its zero initialization) rightly gets a zero gradient on the first step.
    The model's mode, gradients, checkpointing and the RNG are left as they were.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    import torch

    from pytest_lora.batches import tiny_batch
    from pytest_lora.targeting import unwrap
    from pytest_lora.trained import trained_tensors

    tensors = trained_tensors(peft_model)
    if not tensors:
        raise AssertionError("the model has no adapter weights: nothing would be trained")
    base, _ = unwrap(peft_model)
    batch = tiny_batch(peft_model) if batch is None else batch
    was_training = peft_model.training
    saved_grads = [(param, param.grad) for param in peft_model.parameters()]
    enable = gradient_checkpointing not in (None, False)
    turned_on = enable and not any(getattr(m, "gradient_checkpointing", False) is True for m in base.modules())
    try:
        if enable:
            _enable_checkpointing(base, gradient_checkpointing)
        reentrant = _reentrant_checkpointing(base)
        for param, _ in saved_grads:
            param.grad = None
        peft_model.train()
        with torch.random.fork_rng(devices=[]):
            loss = _step(peft_model, batch)
        problems = _problems(tensors, reentrant)
    finally:
        if turned_on:
            _disable_checkpointing(base)
        peft_model.train(was_training)
        for param, grad in saved_grads:
            param.grad = grad
    if problems:
        raise AssertionError(_message(problems, len(tensors), loss))


def _problems(tensors, reentrant: bool) -> list[tuple[str, str]]:
    import torch

    values = {tensor.name: tensor.param for tensor in tensors}
    problems = []
    for tensor in tensors:
        param, grad = tensor.param, tensor.param.grad
        if not param.requires_grad:
            problems.append((tensor.name, _FROZEN))
        elif grad is None:
            problems.append((tensor.name, "grad is None: " + (_REENTRANT if reentrant else _UNREACHED)))
        elif not torch.isfinite(grad).all():
            problems.append((tensor.name, "grad is not finite (inf or nan)"))
        elif not grad.any():
            partner = values.get(_partner(tensor.name) or "")
            if partner is None or partner.detach().any():
                problems.append((tensor.name, "grad is zero"))
    return problems


def _message(problems, total: int, loss) -> str:
    """The offending weights, grouped under the reason they get no gradient."""
    lines = [f"{len(problems)} of {total} adapter weight(s) get no usable gradient from one training step "
             f"(loss {float(loss.detach()):.4g}):"]
    by_reason: dict[str, list[str]] = {}
    for name, why in problems:
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        lines.append(f"{why}:")
        lines += [f"  {name}" for name in names]
    return "\n".join(lines)
